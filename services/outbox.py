"""The email outbox: the one way Pawtal sends mail.

A message is rendered and stored in the same transaction as the change that causes it, then
delivered after the commit by a background thread of the app (or `flask outbox run`), and retried
with backoff until the SMTP server takes it. Links and codes are kept apart from the stored bodies
(which hold placeholders) and erased once delivered, as are the files attached (only their names are
kept, so the outbox page can still say what went out). A file can also be made when the message is
sent (`MadeWhenSent`, e.g. an invoice's PDF), so the request that queues it stays fast. Each message is
claimed with a conditional update before sending, so two senders never send it twice.
"""
from __future__ import annotations

import base64
import logging
import re
import secrets as random_tokens
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from typing import Callable
from urllib.parse import urlsplit

from flask import Flask, current_app, render_template
from flask_mail import Message
from markupsafe import escape
from sqlalchemy import event, func, or_, select, update

from extensions import db, mail
from filters import lazy_gettext as _l
from models import OutboxMessage, utcnow
from services.settings import business

log = logging.getLogger(__name__)

PLACEHOLDER = "[[secret:{}]]"
_ANY_PLACEHOLDER = re.compile(r"\[\[secret:\w+\]\]")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,60}")
REMOVED = _l("(removed after delivery)")
CLAIM_SECONDS = 300
SUBJECT_MAX = 200  # OutboxMessage.subject
MAX_BACKOFF = timedelta(hours=1)


def external_url(endpoint: str, **values) -> str:
    """An absolute link for email, from BASE_URL (works outside a request too)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["BASE_URL"] + path


# What makes a file when its message is sent: name -> function(**args) -> bytes (see MadeWhenSent).
_makers: dict[str, Callable[..., bytes]] = {}


def attachment_maker(name: str):
    """Register a function that makes an attachment's bytes when its message is sent."""

    def register(make: Callable[..., bytes]) -> Callable[..., bytes]:
        _makers[name] = make
        return make

    return register


@dataclass(frozen=True)
class MadeWhenSent:
    """An attachment made by the registered maker `make` from `args` (plain JSON values) when the message is
    sent, not when it is queued: a PDF takes a tenth of a second or more to render, too long for a request
    that queues hundreds of messages. Should the maker fail, the message waits and is retried like any."""

    filename: str
    content_type: str
    make: str
    args: dict = field(default_factory=dict)


def queue_email(kind: str, recipients: list[str], subject: str, template: str, secrets: dict | None = None,
                attachments: list[tuple[str, str, bytes] | MadeWhenSent] | None = None, headers: dict | None = None,
                next_attempt_at: datetime | None = None, **context) -> OutboxMessage:
    """Render email/<template>.txt and .html and add the message to the session; the caller commits.

    `secrets` (links, codes) reach the templates as placeholders and are substituted only when sending.
    `attachments` are (filename, content type, bytes), kept with the message until it is delivered, or
    files made when it is sent (MadeWhenSent). `headers` are this message's own, added to its kind's; their
    values may hold the same placeholders (PLACEHOLDER.format(name)). `next_attempt_at` holds it back until then.
    """
    secrets = secrets or {}
    for name, value in (headers or {}).items():
        if not _HEADER_NAME.fullmatch(name) or any(ch in str(value) for ch in "\r\n"):
            raise ValueError(f"not a header: {name!r}")
    context.update(business=business(), secret={name: PLACEHOLDER.format(name) for name in secrets})
    message = OutboxMessage(
        kind=kind, recipients=list(recipients), subject=one_line(subject, SUBJECT_MAX), secrets=secrets or None, last_error="",
        body_text=render_template(f"email/{template}.txt", **context),
        body_html=render_template(f"email/{template}.html", **context),
        attachments=[_stored(each) for each in attachments or ()] or None, headers=dict(headers) if headers else None,
        next_attempt_at=next_attempt_at or utcnow(),
    )
    db.session.add(message)
    _wake_after_commit()
    return message


def one_line(text: str, limit: int) -> str:
    """A subject as a header may carry it: line breaks and runs of spaces made one space (a name or subject typed
    by anyone cannot start a header), cut to fit its column with an ellipsis ("Message from <name>: <subject>"
    may be longer than either alone)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _stored(attachment: tuple[str, str, bytes] | MadeWhenSent) -> dict:
    if isinstance(attachment, MadeWhenSent):
        if attachment.make not in _makers:
            raise ValueError(f"no attachment maker {attachment.make!r}")
        return {"filename": attachment.filename, "content_type": attachment.content_type, "make": attachment.make,
                "args": attachment.args}
    filename, content_type, data = attachment
    return {"filename": filename, "content_type": content_type, "size": len(data),
            "data": base64.b64encode(data).decode("ascii")}


def _wake_after_commit() -> None:
    worker = current_app.extensions.get("pawtal_outbox")
    session = db.session()
    if worker is not None and not session.info.get("outbox_wake"):
        session.info["outbox_wake"] = True

        def wake(_session):
            _session.info.pop("outbox_wake", None)
            worker.wake()

        event.listen(session, "after_commit", wake, once=True)


def fill(body: str, secrets: dict | None, html: bool) -> str:
    """Put the secrets back into a stored body (escaped for HTML), or say they were removed."""
    if secrets is None:  # delivered: the secrets are gone
        return _ANY_PLACEHOLDER.sub(lambda _match: str(REMOVED), body)
    for name, value in secrets.items():
        body = body.replace(PLACEHOLDER.format(name), str(escape(value)) if html else value)
    return body


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


def claimable(limit: int, now: datetime):
    """The ids of up to `limit` due messages no sender holds. On PostgreSQL the rows another sender is claiming at
    this moment are skipped (FOR UPDATE SKIP LOCKED), so senders on any number of workers or hosts take different
    messages at once instead of queueing for the same ones; SQLite has one writer at a time and no such clause."""
    due = (OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now,
           or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
    return select(OutboxMessage.id).where(*due).order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)


def _claim(limit: int, now: datetime) -> list[OutboxMessage]:
    """Take up to `limit` due messages for this sender; another sender's claims are left alone (the conditional
    update below re-checks that each is still free)."""
    due = (OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now,
           or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
    ids = list(db.session.scalars(claimable(limit, now)))
    if not ids:
        return []
    until = now + timedelta(seconds=CLAIM_SECONDS, microseconds=random_tokens.randbelow(1_000_000))
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids), *due).values(claimed_until=until)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids),
                                                               OutboxMessage.claimed_until == until)))


def deliver_due(limit: int = 200) -> tuple[int, int]:
    """Send what is due over one SMTP connection; returns (sent, failed). Failures wait and retry."""
    now = utcnow()
    batch = _claim(limit, now)
    sent = failed = 0
    if not batch:
        return 0, 0
    try:
        with mail.connect() as connection:
            for message in batch:
                try:
                    mail_message = _mail_message(message)
                    connection.send(mail_message)
                except Exception as error:  # noqa: BLE001 - a refused recipient must not stop the batch
                    _failed(message, error)
                    failed += 1
                else:
                    message.sent_at, message.secrets, message.claimed_until, message.last_error = utcnow(), None, None, ""
                    message.attachments = delivered_attachments(mail_message)
                    message.attempts += 1
                    sent += 1
                db.session.commit()  # one message at a time: a crash cannot resend what was delivered
    except Exception as error:  # noqa: BLE001 - SMTP down: everything left waits for its next attempt
        for message in batch:
            if message.sent_at is None and message.claimed_until is not None:
                _failed(message, error)
                failed += 1
        db.session.commit()
    if failed:
        log.warning("outbox: %d message(s) not delivered, will retry", failed)
    return sent, failed


def _failed(message: OutboxMessage, error: Exception) -> None:
    message.attempts += 1
    message.next_attempt_at = utcnow() + backoff(message.attempts)
    message.claimed_until = None
    message.last_error = f"{type(error).__name__}: {error}"[:500]


def delivered_attachments(mail_message: Message) -> list | None:
    """What a delivered message keeps of the files it carried: their names, types and sizes, not their contents."""
    return [{"filename": each.filename, "content_type": each.content_type, "size": len(each.data)}
            for each in mail_message.attachments] or None


# Kinds written by a person (the business's messages to a client); every other email Pawtal sends is automatic
# and says so (RFC 3834), so that vacation responders do not answer it.
MESSAGE_TO_CLIENT = "message-reply"
PERSONAL_KINDS: frozenset[str] = frozenset({MESSAGE_TO_CLIENT})


def headers_for(kind: str) -> dict:
    """From (the business's name at the configured address), Reply-To (the business's email, so an answer reaches
    someone), Message-ID (on the site's own domain) and Auto-Submitted, as the message is sent: the business's
    details are read then, so a change of name or email applies to what is still waiting."""
    found = business()
    _name, address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    domain = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    # The name quoted but not encoded: Flask-Mail encodes a name that is not ASCII itself (once; an encoded one it
    # would encode again). Whitespace, line breaks included, becomes one space: a name cannot start a header.
    name = " ".join(found.name.split()).replace("\\", "\\\\").replace('"', '\\"')
    reply_to = parseaddr(found.email or "")[1]
    headers = {"sender": f'"{name}" <{address or f"no-reply@{domain}"}>',
               "reply_to": reply_to if reply_to and "\n" not in reply_to and "\r" not in reply_to else None,
               "msg_id": make_msgid(domain=domain), "extra": {}}
    if kind not in PERSONAL_KINDS:
        headers["extra"]["Auto-Submitted"] = "auto-generated"
    return headers


def _mail_message(message: OutboxMessage) -> Message:
    headers = headers_for(message.kind)
    for name, value in (message.headers or {}).items():  # the message's own (a newsletter's List-Unsubscribe)
        headers["extra"][name] = fill(value, message.secrets, html=False)
    mail_message = Message(
        subject=message.subject, recipients=list(message.recipients),
        body=fill(message.body_text, message.secrets, html=False),
        html=fill(message.body_html, message.secrets, html=True),
        sender=headers["sender"], reply_to=headers["reply_to"], extra_headers=headers["extra"] or None,
    )
    mail_message.msgId = headers["msg_id"]
    for each in message.attachments or ():
        data = base64.b64decode(each["data"]) if "data" in each else _makers[each["make"]](**each["args"])
        mail_message.attach(each["filename"], each["content_type"], data)
    return mail_message


def deliver_all(max_rounds: int = 1000) -> tuple[int, int]:
    """Deliver until nothing is due (one round per batch); for the CLI and tests."""
    total_sent = total_failed = 0
    for _ in range(max_rounds):
        sent, failed = deliver_due()
        total_sent, total_failed = total_sent + sent, total_failed + failed
        if not sent and not failed:
            break
        if failed and not sent:
            break
    return total_sent, total_failed


def retry_now(message: OutboxMessage) -> None:
    """Make a waiting message due now; the sender looks as soon as the change is committed."""
    message.next_attempt_at = utcnow()
    _wake_after_commit()


def list_undelivered() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
                                   .order_by(OutboxMessage.id.desc()).limit(200)))


def list_recent_sent(limit: int = 50) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.sent_at.is_not(None))
                                   .order_by(OutboxMessage.sent_at.desc()).limit(limit)))


def count_failing() -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.sent_at.is_(None), OutboxMessage.last_error != ""))


class OutboxWorker:
    """A daemon thread per app process: delivers after each commit that queued mail, and polls for retries."""

    def __init__(self, app: Flask):
        self.app = app
        self._event = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pawtal-outbox", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """Deliver now, in a process whose sender runs (it starts with the first request). A command's
        process has none and starts none: the command would end it mid-delivery, perhaps between sending a
        message and recording it (sent twice later); the running app's sender takes the mail instead."""
        if self._thread is None:
            return
        self.start()
        self._event.set()

    def _run(self) -> None:
        while True:
            self._event.wait(self.app.config["OUTBOX_POLL_SECONDS"])
            self._event.clear()
            with self.app.app_context():
                try:
                    deliver_all()
                except Exception:  # noqa: BLE001 - keep the thread alive; the next round retries
                    log.exception("outbox: delivery round failed")
                finally:
                    db.session.remove()


def init_app(app: Flask) -> None:
    if not app.config["OUTBOX_WORKER"]:
        return
    worker = OutboxWorker(app)
    app.extensions["pawtal_outbox"] = worker
    # Start with the first request (not for CLI commands), so mail queued while down goes out.
    app.before_request(worker.start)


def wake() -> None:
    """Ask this process's sender thread to deliver now (no-op when there is none)."""
    worker = current_app.extensions.get("pawtal_outbox")
    if worker is not None:
        worker.wake()
