"""Hostile input everywhere: every query parameter the code reads and every form the pages render, as every
kind of account, with values meant to break things. No answer is a 500; a refused post changes no row and
leaves no file behind.
"""
from __future__ import annotations

import functools
import io
import os
import re
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import TextClause, text

from extensions import db
from tests.conftest import HX, login_as
from tests.test_access import world  # noqa: F401 - the fixture: a household with one of everything

ROOT = Path(__file__).resolve().parent.parent
# Tried one field at a time, the others as the page filled them in: the values that reach the database as a
# number, an id or a date (NUL, NaN and long text are tried in every field at once, which finds them already).
EACH_FIELD = ["-1", "99999999999999999999", "9999-12-31"]
HOSTILE = ["\x00", "a\x00b", "NaN", "-Infinity", "1e400", "-1", "0", "99999999999999999999", "9999-12-31",
           "0000-00-00", "2026-02-30", "25:61", " ", "<script>alert(1)</script>", "' OR 1=1 --", "ﬀ\u202e",
           "x" * 5000, "/\t/evil.example", "1,2,3", "true"]
QUERY_HOSTILE = ["\x00", "-1", "99999999999999999999", "9999-12-31", "0001-01-01", "NaN", "x" * 500, "%"]


def query_parameters() -> list[str]:
    """Every query parameter the views read, found in the code (request.args, id_arg and ClientQuery.from_args)."""
    names = set()
    for path in list((ROOT / "blueprints").rglob("*.py")) + [ROOT / "access.py", ROOT / "services" / "clients.py"]:
        names |= set(re.findall(r'(?:args\.get|args\.getlist|id_arg)\("(\w+)"', path.read_text()))
        names |= set(re.findall(r'args\["(\w+)"\]', path.read_text()))
    return sorted(names)


class Forms(HTMLParser):
    """The post forms of a page: their action, fields (name, type, value) and what a person would send as is."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._current = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        form = self._current
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._current = {"action": attrs.get("action") or "", "fields": [], "sent": {},
                             "multipart": attrs.get("enctype") == "multipart/form-data"}
            self.forms.append(self._current)
        elif form is None:
            return
        elif tag == "option" and self._select:
            if self._select not in form["sent"] or "selected" in attrs:
                form["sent"][self._select] = attrs.get("value", "")
        elif tag in ("input", "select", "textarea") and attrs.get("name"):
            name, kind = attrs["name"], attrs.get("type", "text" if tag == "input" else tag)
            form["fields"].append((name, kind, attrs.get("value", "")))
            if tag == "select":
                self._select = name
            elif tag == "textarea":
                self._textarea = name
                form["sent"][name] = ""
            elif kind not in ("checkbox", "radio", "file", "submit") or "checked" in attrs:
                form["sent"][name] = attrs.get("value", "on")

    def handle_data(self, data):
        if self._textarea and self._current is not None:
            self._current["sent"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


@functools.cache
def _count_every_table() -> tuple[list[str], TextClause]:
    tables = [t.name for t in db.metadata.sorted_tables]  # sorted afresh on each access: kept, once per run
    return tables, text("SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables))


def counts() -> dict:
    """The number of rows in every table, in one round trip."""
    tables, query = _count_every_table()
    row = db.session.execute(query).one()
    db.session.rollback()
    return dict(zip(tables, row))


def files(folder: str) -> set[str]:
    return {os.path.join(root, name) for root, _, names in os.walk(folder) for name in names}


def send(browser, method: str, url: str, **options):
    """The answer, or the exception a view raised (the test app propagates them; production answers 500)."""
    try:
        return browser.open(url, method=method, **options)
    except Exception as error:  # noqa: BLE001 - any exception is the finding
        db.session.rollback()
        return f"raised {type(error).__name__}: {str(error)[:120]}"


def _get_urls(app, values) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods or rule.endpoint.startswith("feeds."):
            continue
        urls.append(rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1])
    return urls


WHO = ["anonymous", "client", "sitter", "manager", "owner"]


def _signed_in(app, world, who):
    accounts, values = world
    browser = app.test_client()
    if accounts[who] is not None:
        login_as(browser, accounts[who])
    return browser, values


@pytest.mark.parametrize("who", WHO)
def test_hostile_query_parameters_never_break_a_page(app, world, who):  # noqa: F811 - world is the fixture imported above
    browser, values = _signed_in(app, world, who)
    problems = []
    params = query_parameters()
    for url in _get_urls(app, values):
        for value in QUERY_HOSTILE:
            response = send(browser, "GET", url, query_string={name: value for name in params})
            if isinstance(response, str) or response.status_code >= 500:
                status = response if isinstance(response, str) else response.status_code
                problems.append(f"GET {url} with every parameter = {value[:20]!r}: {status}")
    assert not problems, f"{len(problems)} problems as {who}:\n" + "\n".join(problems[:80])


# The owner tries every field of every form alone, several times the posts of any other account: her forms are
# shared out in two halves, each a test of its own, so that two workers share them.
POSTERS = [(who, 0, 1) for who in WHO if who != "owner"] + [("owner", 0, 2), ("owner", 1, 2)]


@pytest.mark.parametrize(("who", "half", "halves"), POSTERS, ids=[f"{w}-{h + 1}of{n}" if n > 1 else w
                                                                   for w, h, n in POSTERS])
def test_hostile_posts_never_break_anything_and_a_refusal_changes_nothing(app, world, who, half, halves):  # noqa: F811
    """Every post form on every page the account can open, sent with hostile values."""
    browser, values = _signed_in(app, world, who)
    problems = []
    pages = []
    for url in _get_urls(app, values):
        page = send(browser, "GET", url)
        if not isinstance(page, str) and page.status_code == 200 and page.mimetype == "text/html":
            pages.append(page.get_data(as_text=True))
    seen = set()
    uploads = app.config["UPLOAD_FOLDER"]
    known = None  # the rows counted after the last refused post: nothing has changed them since
    for html in pages:
        parser = Forms()
        parser.feed(html)
        for form in parser.forms:
            key = (form["action"], tuple(sorted(f[0] for f in form["fields"])))
            if key in seen or not form["action"].startswith("/") or "logout" in form["action"]:
                continue
            seen.add(key)
            if zlib.crc32(repr(key).encode()) % halves != half:  # by the form, whatever the order pages list them
                continue
            names = [name for name, kind, _ in form["fields"] if kind not in ("file", "submit") and name != "csrf_token"]
            trials = [{name: value for name in names} for value in HOSTILE]
            if who != "manager":  # the owner sees every form a manager does, and tries each field alone
                trials += [{**form["sent"], name: value} for name in names for value in EACH_FIELD]
            for number, trial in enumerate(trials):
                value = next(iter(trial.values()), "") if len(set(trial.values())) == 1 else "one field"
                alone = number >= len(HOSTILE)  # one field's value among those the page filled in
                data = dict(trial)
                for name, kind, _ in form["fields"]:
                    if kind == "file":
                        data[name] = (io.BytesIO(b"\x00not an image"), "x.png")
                before, stored = known or counts(), files(uploads)
                known = None
                # Every field at once is posted as a page without JavaScript posts it (a refusal renders the whole
                # page with the values). One field alone, the owner's trials and most of her posts, is posted as
                # htmx does: the same validation, writes and row counts, and the form's fragment, the part of the
                # page that shows what was posted; rendering the whole page for each was most of this test's time.
                response = send(browser, "POST", form["action"], data=data, headers=HX if alone else {},
                                content_type="multipart/form-data" if form["multipart"] else None)
                status = response if isinstance(response, str) else response.status_code
                odd = {k: v[:20] for k, v in trial.items() if v != form["sent"].get(k)}
                where = f"POST {form['action']} {odd if len(odd) < 3 else 'all = ' + repr(value[:20])}: {status}"
                if isinstance(status, str) or status >= 500:
                    problems.append(where)
                elif status >= 400:
                    after = known = counts()
                    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
                    if changed:
                        problems.append(f"{where} but rows changed: {changed}")
                    if files(uploads) - stored:
                        problems.append(f"{where} but left files: {sorted(files(uploads) - stored)}")
    assert not problems, f"{len(problems)} problems as {who}:\n" + "\n".join(problems[:80])
    assert seen or who == "anonymous" or who == "client", "the walk found no forms to try"


def test_the_query_parameters_are_found():
    assert {"q", "sort", "page", "date", "view", "month", "day", "client"} <= set(query_parameters())
