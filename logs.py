"""Request ids and the app's log lines: each request gets an id (a trusted proxy's, when sane, else a new one),
sent back in X-Request-ID, stamped on every log record of the request and shown on the error page; one access
line per request; human text by default, JSON lines with PAWTAL_LOG_FORMAT=json."""
from __future__ import annotations

import json
import logging
import re
import secrets
import time
from datetime import datetime, timezone

from flask import Flask, current_app, g, has_request_context, request
from flask.logging import default_handler, wsgi_errors_stream
from sqlalchemy import inspect as inspect_row

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
HEADER = "X-Request-ID"
TEXT_FORMAT = "[%(asctime)s] %(levelname)s %(name)s [%(request_id)s]: %(message)s"
# The access line's fields, kept on its record (and written as keys of their own in JSON).
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "user_kind", "user_id")
# Loggers of Pawtal's own code besides the app's (services log under their module names).
OWN_LOGGERS = ("services",)


def request_id() -> str:
    """This request's id (made on first use, so an error before any hook still has one); "-" outside a request."""
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        g.request_id = _incoming() or secrets.token_hex(8)
    return g.request_id


def _incoming() -> str | None:
    """The id a trusted proxy sent (only behind PAWTAL_PROXY_HOPS), when it is a plain short word; else None."""
    given = request.headers.get(HEADER, "")
    if current_app.config["PROXY_HOPS"] and REQUEST_ID.fullmatch(given):
        return given
    return None


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request it was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, the access fields when present."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                "request_id": getattr(record, "request_id", "-")}
        line.update({name: getattr(record, name) for name in ACCESS_FIELDS if hasattr(record, name)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class PawtalHandler(logging.StreamHandler):
    """The handler Pawtal puts on its loggers (one per logger, replaced when another app is created). It writes
    where Flask's own would: the server's error stream (wsgi.errors), else stderr, looked up for each record."""

    def __init__(self):
        super().__init__(wsgi_errors_stream)


def init_app(app: Flask) -> None:
    """Log the app's records (and its services') through one handler in the configured format, at INFO."""
    handler = PawtalHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if app.config["LOG_FORMAT"] == "json" else logging.Formatter(TEXT_FORMAT))
    for logger in (app.logger, *map(logging.getLogger, OWN_LOGGERS)):
        for old in [h for h in logger.handlers if isinstance(h, PawtalHandler) or h is default_handler]:
            logger.removeHandler(old)  # Flask's own, or the one of an app made earlier in this process
        logger.addHandler(handler)
        if not any(isinstance(f, RequestIdFilter) for f in logger.filters):
            logger.addFilter(RequestIdFilter())  # on the logger too: records that propagate (to pytest's) carry it
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    app.before_request(_start)
    app.after_request(_finish)
    app.add_template_global(request_id, "request_id")


def _start() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _finish(response):
    """Send the id back and write the access line: no query string, no email, no token."""
    response.headers[HEADER] = request_id()
    started = g.get("request_started")
    kind, account = _account()
    fields = {"method": request.method, "path": _path(), "status": response.status_code,
              "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
              "user_kind": kind, "user_id": account}
    current_app.logger.info("%s %s %s %sms %s%s", fields["method"], fields["path"], fields["status"],
                            fields["duration_ms"], kind, f":{account}" if account else "", extra=fields)
    return response


def _path() -> str:
    """The path; where the route takes words (a token, a code), the route's pattern instead of the words."""
    rule, values = request.url_rule, request.view_args or {}
    if rule is not None and rule.endpoint != "static" and any(isinstance(value, str) for value in values.values()):
        return rule.rule
    return request.path


def _account() -> tuple[str, int | None]:
    """Who the request acted as, if the request looked (the user is not loaded just to log it: no extra query,
    and a page such as /healthz stays without a session)."""
    user = g.get("_login_user")
    # The identity map's key, not user.id: the request has committed by now, and reading an expired attribute
    # would load the row again.
    state = inspect_row(user, raiseerr=False) if user is not None else None
    if state is None or state.identity is None:  # nobody signed in (Flask-Login's anonymous user)
        return "anonymous", None
    return ("staff" if user.is_staff else "client"), state.identity[0]
