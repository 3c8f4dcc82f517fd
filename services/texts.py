"""Text the business writes in Markdown (its client FAQ; newsletters later), turned into HTML that is safe to
show: markdown-it-py renders it with raw HTML off, then nh3 (the Rust ammonia sanitiser) keeps only the tags,
attributes and link schemes listed here, so nothing typed can run script or load from elsewhere."""
from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "h2", "h3", "h4", "blockquote", "code", "pre", "hr"}
ATTRIBUTES = {"a": {"href", "title"}}
SCHEMES = {"http", "https", "mailto", "tel"}
FAQ_MAX = 20_000

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


@lru_cache(maxsize=16)
def markdown_html(text: str) -> Markup:
    """`text` as sanitised HTML. A heading the writer marks # becomes h2 (the page has its own h1)."""
    html = _markdown.render(text or "").replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return Markup(nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES,
                            link_rel="noopener noreferrer nofollow"))
