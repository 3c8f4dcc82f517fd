"""Text people write, turned into HTML that is safe to show.

The business writes Markdown (its client FAQ, newsletters): markdown-it-py renders it with raw HTML off, then nh3
(the Rust ammonia sanitiser) keeps only the tags, attributes and link schemes listed here, so nothing typed can
run script or load from elsewhere. Messages are plain text: shown as typed (escaped, line breaks kept), only their
web and email addresses made links, by markdown-it-py's "zero" preset (no Markdown at all) with linkify.
"""
from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import String, func, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "h2", "h3", "h4", "blockquote", "code", "pre", "hr"}
ATTRIBUTES = {"a": {"href", "title"}}
SCHEMES = {"http", "https", "mailto", "tel"}
FAQ_MAX = 20_000

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_plain = MarkdownIt("zero", {"html": False, "linkify": True, "breaks": True}).enable(["linkify", "newline"])


@lru_cache(maxsize=16)
def markdown_html(text: str) -> Markup:
    """`text` as sanitised HTML. A heading the writer marks # becomes h2 (the page has its own h1)."""
    html = _markdown.render(text or "").replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return Markup(nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES,
                            link_rel="noopener noreferrer nofollow"))


def plain_html(text: str) -> Markup:
    """Plain text as HTML: escaped, paragraphs and line breaks kept, links clickable (http, https and mailto only;
    `javascript:` stays text), opening with rel="noopener noreferrer nofollow"."""
    html = _plain.render(text or "")
    return Markup(nh3.clean(html, tags={"p", "br", "a"}, attributes={"a": {"href"}}, url_schemes={"http", "https", "mailto"},
                            link_rel="noopener noreferrer nofollow"))


class bytewise(FunctionElement):  # noqa: N801 - used like a SQL function
    """A text compared byte by byte, for LIKE '%word%' on text already lower-cased: on PostgreSQL `COLLATE "C"`.

    PostgreSQL 15 matches LIKE under a libc collation such as C.UTF-8 character by character through the
    collation, about four times slower than under "C" (12 ms against 3 ms over 10,000 clients' search text);
    the rows found are the same, as LIKE is an exact match under any deterministic collation. SQLite compares
    bytes already."""

    type = String()
    inherit_cache = True
    name = "bytewise"


@compiles(bytewise)
def _bytewise(element, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(bytewise, "postgresql")
def _bytewise_postgresql(element, compiler, **kw) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def search_terms(q: str, columns) -> list:
    """Where-clauses for a search box: every word typed is in one of `columns` (any case; % and _ are letters)."""
    conditions = []
    for term in (q or "").lower().split()[:8]:
        pattern = "%" + re.sub(r"([/%_])", r"/\1", term[:100]) + "%"
        conditions.append(or_(*(bytewise(func.lower(column)).like(pattern, escape="/") for column in columns)))
    return conditions
