"""Page-or-fragment rendering (the one place that reads htmx request headers), and the shape of a view
that calls a service: on success answer done, on a refusal show the form again beside its fields.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from functools import wraps
from typing import Callable, TypeVar
from urllib.parse import urlsplit

from flask import current_app, flash, g, make_response, redirect, render_template, request, send_file, session
from flask_htmx import make_response as htmx_response
from flask_login import current_user

from extensions import db, htmx
from filters import locale
from forms.errors import show_errors
from services.errors import DomainError

T = TypeVar("T")


def safe_path(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default`: never another site, whatever the spelling.

    Browsers drop tabs and newlines and read a backslash as a slash, so "/\t/evil.example" would leave
    the site: a target with control characters or backslashes is refused, as is any scheme or host.
    """
    if not target or any(ord(ch) < 32 or ch in "\\\x7f" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def wants_fragment() -> bool:
    """A fragment only for an htmx swap: not for boosted links nor history restores."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(page_template: str, fragments: str | dict[str, str], status: int = 200, push_url: str | None = None, **context):
    """Render `page_template`, or for an htmx swap the fragment the request targets.

    `fragments` is one template, or a mapping of target element id to template whose
    first entry is the default; the page includes the same fragments, so markup exists once.
    """
    if wants_fragment():
        if isinstance(fragments, str):
            template = fragments
        else:
            template = fragments.get(htmx.target or "") or next(iter(fragments.values()))
        response = htmx_response(render_template(template, **context), status, push_url=push_url)
    else:
        response = make_response(render_template(page_template, **context), status)
    response.vary.add("HX-Request")
    if isinstance(fragments, dict) and len(fragments) > 1:
        response.vary.add("HX-Target")
    return response


# A macro's output by its arguments, kept per process (least recently used out first): see remembered().
_REMEMBERED: OrderedDict = OrderedDict()
_REMEMBERED_CHARS = 4_000_000  # at most this much output kept (about a week's schedule twenty times over)
_REMEMBERED_LOCK = threading.Lock()
_remembered_size = 0


def remembered(macro, *args, **kwargs):
    """`macro(*args, **kwargs)`, rendered once for the same arguments and locale, then kept (a template global).

    For a macro that is a pure function of its arguments, named once among the templates: one that reads no
    request, account, clock or context beyond what it is given, and translates only in the request's locale,
    which is part of the key. The staff week renders 400 visits in 7 such calls (visit_entries): a reload that
    shows the same visits re-renders none of them, and a change to a visit (its state, time, client's name)
    changes its day's key (a key notice changed: every day's of the range, as they share the notices). Lists and
    dicts in the arguments are compared by value; named tuples (CalendarVisit) are hashable as they are. With
    templates reloaded as they change (debug), nothing is kept.
    """
    global _remembered_size
    if current_app.jinja_env.auto_reload:
        return macro(*args, **kwargs)
    key = (macro.name, str(locale()), _frozen(args), _frozen(kwargs))
    with _REMEMBERED_LOCK:
        found = _REMEMBERED.get(key)
        if found is not None:
            _REMEMBERED.move_to_end(key)
            return found
    found = macro(*args, **kwargs)
    with _REMEMBERED_LOCK:
        if key not in _REMEMBERED:
            _REMEMBERED[key] = found
            _remembered_size += len(found)
        while _remembered_size > _REMEMBERED_CHARS and _REMEMBERED:
            _remembered_size -= len(_REMEMBERED.popitem(last=False)[1])
    return found


def _frozen(value):
    """A hashable value equal for equal arguments: lists become tuples and dicts sorted pairs, all the way down."""
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    return value


# What a page's ETag covers besides its body: the headers that change what the browser does with it.
_ETAG_HEADERS = ("Content-Type", "Content-Language", "Vary", "HX-Push-Url", "HX-Trigger", "HX-Retarget", "HX-Reswap")
_TOKEN_MARK = b"<csrf-token>"
_MESSAGE_KEY = re.compile(rb'value="m-[0-9a-f]{32}"')  # services.messages.new_message_key, as a form renders it


def conditional(view: Callable | None = None, *, message_forms: bool = False) -> Callable:
    """A GET that answers 304 Not Modified when the page it would send is the one the browser already holds.

    The ETag is a hash of the response as rendered, so nothing the page shows can differ under the same tag:
    its data, the menu's counts, settings, language, query string, page or fragment. It also covers the viewer
    (the account and its session, so one person's tag is never another's) and the CSRF token: the signed token
    carries the second it was signed, so it is left out of the hash, and the raw token in the session and the
    half of WTF_CSRF_TIME_LIMIT we are in go in instead. A 304 thus leaves the browser a token with at least
    half its life ahead. A pending flash skips all this (the page shows it, once, with a 200). The page is
    still rendered: the 304 saves the transfer, not the work.

    `message_forms=True` also leaves out the random key each served message form carries (the same form sent
    twice makes one message): only for pages that show each such form's thread beside it, where a message sent
    with the key the browser holds changes the page, so the held page and its used key are never revalidated.
    """
    if view is None:
        return lambda view: conditional(view, message_forms=message_forms)

    @wraps(view)
    def wrapped(*args, **kwargs):
        flashing = "_flashes" in session  # looked at before the view renders, and so takes, the message
        response = make_response(view(*args, **kwargs))
        response.headers["Cache-Control"] = "private, no-cache"
        if flashing or response.status_code != 200 or request.method not in ("GET", "HEAD"):
            return response
        response.set_etag(_page_tag(response, message_forms), weak=True)  # weak: the same page compressed or not
        response.make_conditional(request)
        if response.status_code == 304:
            response.set_data(b"")
            del response.headers["Content-Length"]  # a 304 may only state the 200's length: state none
        return response

    return wrapped


def _page_tag(response, message_forms: bool) -> str:
    """The hash behind a page's ETag: its body with the signed CSRF token (and message forms' keys) left out, the
    headers that matter, the viewer, and the CSRF token's time window."""
    body = response.get_data()
    signed = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    if signed:
        body = body.replace(signed.encode(), _TOKEN_MARK)
    if message_forms:
        body = _MESSAGE_KEY.sub(b'value="<form-key>"', body)
    limit = current_app.config.get("WTF_CSRF_TIME_LIMIT", 3600)
    window = int(time.time()) // max(1, limit // 2) if limit else 0
    viewer = {"account": current_user.get_id() if current_user.is_authenticated else None,
              "session": {k: v for k, v in session.items() if k != "_flashes"}, "csrf_window": window,
              "headers": [(name, response.headers.get(name)) for name in _ETAG_HEADERS]}
    digest = hashlib.sha256(json.dumps(viewer, sort_keys=True, default=str).encode())
    digest.update(body)
    return digest.hexdigest()[:32]


def done(message: str, location: str, fragment: str | None = None, trigger: str | dict | None = None,
         category: str = "success", status: int = 200, **context):
    """After a change: redirect with a flash (plain POST) or re-render a fragment (htmx).

    With `oob=True` in the context the fragment is an out-of-band swap (e.g. the flashes region)
    and the URL is left alone. `status` is the fragment's (409 for a button the service refused).
    """
    if wants_fragment() and fragment is not None:
        context.setdefault("notice", message)
        context.setdefault("notice_category", category)
        push_url = None if context.get("oob") or status >= 400 else location
        response = htmx_response(render_template(fragment, **context), status, push_url=push_url, trigger=trigger)
        response.vary.add("HX-Request")
        return response
    flash(message, category)
    if wants_fragment():
        return htmx_response("", redirect=location, trigger=trigger)
    return redirect(location, 303)


def submit(form, work: Callable[[], T], then: Callable[[T], object], again: Callable[[int], object],
           aliases: dict[str, str] | None = None):
    """A form view in one line: when `form` validates, call the service `work()` and answer `then(result)`.

    Otherwise answer `again(status)`: 200 before the form was sent, 422 when it was invalid or the
    service refused it. A refusal (DomainError) undoes what the service changed, and its messages go
    beside the fields they name (`aliases` maps a service's names to the form's); `form.refusal` keeps it.
    """
    form.refusal = None
    if form.validate_on_submit():
        try:
            result = work()
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error, aliases)
            form.refusal = error
        else:
            return then(_settled(result))
    return again(422 if form.is_submitted() else 200)


def perform(work: Callable[[], T], then: Callable[[T], object], refused: Callable[[DomainError], object]):
    """A button's view in one line: call the service `work()`; on a refusal undo it and answer `refused(error)`."""
    try:
        result = work()
    except DomainError as error:
        db.session.rollback()
        return refused(error)
    return then(_settled(result))


def _settled(result: T) -> T:
    """Write the change and let what the answer shows be read afresh (ordered collections included),
    as a commit would; the request's commit comes after the answer is rendered."""
    db.session.flush()
    db.session.expire_all()
    return result


def send_pdf(data: bytes, filename: str):
    """A PDF made for the signed-in viewer (an invoice), downloaded as `filename` and kept by no cache."""
    response = make_response(data)
    response.mimetype = "application/pdf"
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def send_upload(path: str, content_type: str, name: str):
    """A stored upload (a PDF or a re-encoded JPEG) for a viewer who may see it: a PDF downloads, an image opens;
    never kept by shared caches, sandboxed if opened."""
    response = send_file(path, mimetype=content_type, max_age=0, as_attachment=content_type == "application/pdf",
                         download_name=name)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


def send_private_jpeg(path: str):
    """A stored photo for a signed-in viewer: private to the browser, never kept by shared caches."""
    response = send_file(path, mimetype="image/jpeg", max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Disposition"] = "inline"
    return response
