"""Messages between the business and the people it serves.

Three kinds of thread, one model (models.MessageThread):
- a client's: written from the portal ("Message us"), or started by staff from the client's profile;
- a visitor's, from the public Contact page: no profile, the name and address they gave are kept;
- a visit's: between the client, the visit's sitter and the office ("the gate code changed"), one per visit.

Who sees which thread lives in `_visible`: owners and managers every thread, a sitter the threads of her visits and
those assigned to her, a client login their own profile's. Text is kept as typed and shown escaped, its links made
clickable (services.texts.plain_html); a file goes through the same intake as every upload (services.uploads).

Every message tells the other side by email: the client (or visitor) when the business writes, personally (the
email is the reply, written by a person, with the business's address to answer to); the office when a client or
visitor writes (the assigned staff member, else the business's address); the sitter of a visit when its client
writes. Unread is per staff member (models.MessageRead) and, for the client, per thread.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from flask import current_app
from sqlalchemy import Integer, String, and_, bindparam, exists, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from filters import formatted
from filters import gettext as _
from models import (
    MAX_ID, ClientEmail, ClientLogin, ClientProfile, Message, MessageRead, MessageThread, StaffUser, Visit, utcnow,
)
from services import emails, spam, texts
from services.accounts import clean_email, normalize_email
from services.errors import DomainError, FieldErrors
from services.settings import business
from services.uploads import keep_file, pdf_or_image, stored_path

CONTACT_SALT = "contact-form"
MIN_SECONDS = 3  # a person takes longer than this to write a message
MAX_AGE = 24 * 3600  # a form served more than a day ago is served again
BODY_MAX = 5000
SUBJECT_MAX = 160
PAGE = 30
SHOWS = ("all", "unread", "mine", "unassigned", "visits")

Author = StaffUser | ClientLogin


def author_key(author: Author | None) -> str:
    if author is None:
        return "visitor"
    return f"staff:{author.id}" if author.is_staff else f"client:{author.id}"


def _visible(viewer: Author):
    """Which threads the viewer may read (a where clause)."""
    if not viewer.is_staff:
        return MessageThread.client_id == viewer.client_id
    return _visible_to_staff(viewer.can_manage, viewer.id)


def _visible_to_staff(manager: bool, staff_id):
    """The threads a manager (all) or a sitter may read; `staff_id` is an id or a bound parameter."""
    if manager:
        return true()
    # Per thread, a look-up of its visit by id: `visit_id IN (her visits)` made SQLite list every visit she ever had
    # (thousands, years of them) on every page, for the menu's unread count (32 of a sitter's day's 62 ms).
    hers = exists().where(Visit.id == MessageThread.visit_id, Visit.sitter_id == staff_id)
    return or_(MessageThread.assigned_to_id == staff_id, hers)


def load_thread(thread_id: int, viewer: Author) -> MessageThread | None:
    if not 0 < thread_id <= MAX_ID:
        return None
    return db.session.scalar(select(MessageThread).where(MessageThread.id == thread_id, _visible(viewer))
                             .options(selectinload(MessageThread.messages)))


def load_attachment(message_id: int, viewer: Author) -> Message | None:
    """A message's file, if the viewer may read its thread."""
    if not 0 < message_id <= MAX_ID:
        return None
    return db.session.scalar(select(Message).join(MessageThread).where(
        Message.id == message_id, Message.attachment_stored.is_not(None), _visible(viewer)))


def attachment_path(message: Message) -> str:
    return stored_path("messages", message.attachment_stored)


def _unread_for(author):
    """Unread for a staff member (`author`: their author_key, or a bound parameter): a newer message than their
    last reading, written by someone else."""
    return and_(MessageThread.last_author != author,
                or_(MessageRead.read_at.is_(None), MessageRead.read_at < MessageThread.last_message_at))


def _read_join(staff_id):
    return and_(MessageRead.thread_id == MessageThread.id, MessageRead.staff_id == staff_id)


@dataclass
class InboxRow:
    thread: MessageThread
    client_name: str
    unread: bool

    @property
    def who(self) -> str:
        return self.client_name or self.thread.contact_name or self.thread.contact_email


def inbox(staff: StaffUser, show: str = "all", q: str = "", page: int = 1) -> tuple[list[InboxRow], bool]:
    """One page of the staff member's threads, newest first, in one query; and whether there are more."""
    unread = _unread_for(author_key(staff))
    name = func.trim(func.coalesce(ClientProfile.first_name, "") + " " + func.coalesce(ClientProfile.last_name, ""))
    stmt = (select(MessageThread, name, unread).outerjoin(ClientProfile, MessageThread.client_id == ClientProfile.id)
            .outerjoin(MessageRead, _read_join(staff.id)).where(_visible(staff))
            .options(joinedload(MessageThread.assigned_to), joinedload(MessageThread.visit)))
    if show == "unread":
        stmt = stmt.where(unread)
    elif show == "mine":
        stmt = stmt.where(MessageThread.assigned_to_id == staff.id)
    elif show == "unassigned":
        stmt = stmt.where(MessageThread.assigned_to_id.is_(None))
    elif show == "visits":
        stmt = stmt.where(MessageThread.visit_id.is_not(None))
    stmt = stmt.where(*texts.search_terms(q, (MessageThread.subject, MessageThread.contact_name,
                                              MessageThread.contact_email, ClientProfile.first_name,
                                              ClientProfile.last_name)))
    page = max(1, min(page, 10_000))
    rows = db.session.execute(stmt.order_by(MessageThread.last_message_at.desc(), MessageThread.id.desc())
                              .limit(PAGE + 1).offset((page - 1) * PAGE)).unique().all()
    return [InboxRow(t, n or "", bool(u)) for t, n, u in rows[:PAGE]], len(rows) > PAGE


def unread_count(staff: StaffUser) -> int:
    """Threads with something this staff member has not read: the number beside Messages in the menu."""
    return db.session.scalar(_unread_statement(staff.can_manage),
                             {"staff_id": staff.id, "author": author_key(staff)}) or 0


@lru_cache(maxsize=2)
def _unread_statement(manager: bool):
    """unread_count's query for managers or for a sitter, built once: every staff page runs it, and building it
    cost as much as running it (0.2 ms of a sitter's 0.5)."""
    me = bindparam("staff_id", type_=Integer)
    return (select(func.count(MessageThread.id)).outerjoin(MessageRead, _read_join(me))
            .where(_visible_to_staff(manager, me), _unread_for(bindparam("author", type_=String))))


def client_threads(client: ClientProfile, limit: int = 200) -> list[MessageThread]:
    return list(db.session.scalars(_CLIENT_THREADS, {"client_id": client.id, "limit": limit}))


_CLIENT_THREADS = (select(MessageThread).where(MessageThread.client_id == bindparam("client_id"))
                   .options(joinedload(MessageThread.visit))
                   .order_by(MessageThread.last_message_at.desc()).limit(bindparam("limit")))


def client_unread_count(client: ClientProfile) -> int:
    return db.session.scalar(_CLIENT_UNREAD, {"client_id": client.id}) or 0


# Built once: the portal's menu counts on every page.
_CLIENT_UNREAD = select(func.count(MessageThread.id)).where(
    MessageThread.client_id == bindparam("client_id"), MessageThread.business_wrote_at.is_not(None),
    or_(MessageThread.client_read_at.is_(None), MessageThread.client_read_at < MessageThread.business_wrote_at))


def _checked(body: str, subject: str | None = None, errors: dict | None = None) -> tuple[str, str]:
    """The text and subject as kept (trimmed), or FieldErrors naming each one refused."""
    errors = dict(errors or {})
    text = (body or "").replace("\r\n", "\n").replace("\x00", "").strip()
    if not text:
        errors["body"] = _("Write your message.")
    elif len(text) > BODY_MAX:
        errors["body"] = _("Keep the message under %(num)d characters.", num=BODY_MAX)
    title = " ".join((subject or "").replace("\x00", "").split())
    if subject is not None and not title:
        errors["subject"] = _("Give the message a subject.")
    elif len(title) > SUBJECT_MAX:
        errors["subject"] = _("Keep the subject under %(num)d characters.", num=SUBJECT_MAX)
    if errors:
        raise FieldErrors(errors)
    return text, title


def _file(upload) -> tuple[str, str, bytes, str] | None:
    """The file sent with a message, checked (a PDF, or an image re-encoded), or None when there is none."""
    if upload is None or not upload.filename:
        return None
    return pdf_or_image(upload, current_app.config["DOCUMENT_MAX_BYTES"], "attachment")


def _served_key(form_key: str | None) -> str | None:
    """A served form's key as this app makes them (new_message_key), else None: nothing to recognise it by."""
    return form_key if re.fullmatch(r"m-[0-9a-f]{32}", form_key or "") else None


def _add(thread: MessageThread, author: Author | None, text: str, file=None, name: str = "",
         form_key: str | None = None) -> Message | None:
    """The new message, or None when the form with this key was sent before (a double click, two posts at once)."""
    now = utcnow()
    message = Message(thread_id=thread.id, body=text, created_at=now, author="visitor", author_name=name[:200],
                      form_key=_served_key(form_key))
    if author is not None:
        message.author = "staff" if author.is_staff else "client"
        message.author_name = author.name[:200]
        if author.is_staff:
            message.staff_id = author.id
        else:
            message.login_id = author.id
    try:
        with db.session.begin_nested():
            db.session.add(message)
            db.session.flush()
    except IntegrityError:
        return None
    db.session.expire(thread, ["messages"])
    if file is not None:
        content, extension, data, original = file
        message.attachment_stored = secrets.token_hex(16) + extension
        message.attachment_name, message.attachment_type, message.attachment_size = original, content, len(data)
        keep_file(attachment_path(message), data)
    thread.last_message_at, thread.last_author = now, author_key(author)
    if message.from_business:
        thread.business_wrote_at = now
    db.session.flush()
    if author is not None and author.is_staff:
        _read_now(thread, author, now)
    elif author is not None:
        thread.client_read_at = now
    return message


def new_message_key() -> str:
    """The key a served message form carries (random; apart from the Contact page's by its prefix): the same form
    sent twice makes one thread, or one message."""
    return "m-" + secrets.token_hex(16)


def _sent_before(thread: MessageThread, form_key: str | None) -> Message:
    """The message this form made when it was sent before."""
    sent = db.session.scalar(select(Message).where(Message.form_key == _served_key(form_key),
                                                   Message.thread_id == thread.id))
    if sent is None:  # a key from another thread's form: not this form's
        raise DomainError(_("This form could not be read. Check what you typed and send it again."))
    return sent


def _opened(thread: MessageThread) -> bool:
    """Add a new thread; False when the form with its key opened one before (a double click, two posts at once)."""
    try:
        with db.session.begin_nested():
            db.session.add(thread)
            db.session.flush()
    except IntegrityError:
        return False
    return True


def _opened_before(thread: MessageThread) -> MessageThread:
    """The thread this form opened when it was sent before."""
    sent = db.session.scalar(select(MessageThread).where(MessageThread.form_key == thread.form_key,
                                                         MessageThread.client_id == thread.client_id))
    if sent is None:  # a key from another client's form: not this form's
        raise DomainError(_("This form could not be read. Check what you typed and send it again."))
    return sent


def write_to_business(client: ClientProfile, login: ClientLogin, subject: str, body: str, upload=None,
                      form_key: str = "") -> MessageThread:
    """A client's new message from the portal ("Message us"): a thread of its own; the office is told. The same
    form sent twice (a double click, two at once) makes one thread: the second gets the first's."""
    text, title = _checked(body, subject)
    file = _file(upload)
    thread = MessageThread(client_id=client.id, subject=title, form_key=_served_key(form_key))
    if not _opened(thread):
        return _opened_before(thread)
    _tell_office(thread, _add(thread, login, text, file))
    return thread


def start_with_client(client: ClientProfile, staff: StaffUser, subject: str, body: str, upload=None,
                      form_key: str = "") -> MessageThread:
    """Staff write to a client first (from the profile or the inbox); the client is emailed. The same form sent
    twice makes one thread."""
    text, title = _checked(body, subject)
    file = _file(upload)
    if not client.logins and not client.primary_emails:
        raise DomainError(_("This client has no email address to write to. Add one to their profile first."), "body")
    thread = MessageThread(client_id=client.id, subject=title, assigned_to_id=staff.id, form_key=_served_key(form_key))
    if not _opened(thread):
        return _opened_before(thread)
    emails.send_message_to_client_email(thread, _add(thread, staff, text, file))
    return thread


def reply(thread: MessageThread, author: Author, body: str, upload=None, form_key: str = "") -> Message:
    """A new message in a thread the author may read; the other side is told. The same form sent twice makes one
    message (the second gets the first's)."""
    text, _title = _checked(body)
    file = _file(upload)
    if author.is_staff and thread.client_id is None and not thread.contact_email:
        raise DomainError(_("This thread has nobody to write to."), "body")
    message = _add(thread, author, text, file, form_key=form_key)
    if message is None:
        return _sent_before(thread, form_key)
    _tell(thread, message)
    return message


def _tell(thread: MessageThread, message: Message) -> None:
    if message.from_business:
        emails.send_message_to_client_email(thread, message)
        if thread.visit is not None and thread.visit.sitter is not None and thread.visit.sitter_id != message.staff_id:
            emails.send_message_to_staff_email(thread, message, [thread.visit.sitter.email])
    else:
        _tell_office(thread, message)


def _tell_office(thread: MessageThread, message: Message) -> None:
    """A client or visitor wrote: the assigned staff member hears (else the business's address), and for a visit
    its sitter too."""
    recipients = []
    if thread.assigned_to is not None and thread.assigned_to.active:
        recipients.append(thread.assigned_to.email)
    if thread.visit is not None and thread.visit.sitter is not None and thread.visit.sitter.active:
        recipients.append(thread.visit.sitter.email)
    if not recipients:
        recipients.append(business().email)
    recipients = list(dict.fromkeys(r for r in recipients if r))
    if recipients:
        emails.send_message_to_staff_email(thread, message, recipients)


def visit_thread(visit: Visit) -> MessageThread | None:
    return db.session.scalar(select(MessageThread).where(MessageThread.visit_id == visit.id)
                             .options(selectinload(MessageThread.messages)))


_VISIT_THREADS = (select(MessageThread).where(MessageThread.visit_id.in_(bindparam("ids", expanding=True)))
                  .options(selectinload(MessageThread.messages)))


def visit_threads(visit_ids: list[int]) -> dict[int, MessageThread]:
    """The threads of these visits with their messages, in two queries (a day of cards builds none per card)."""
    if not visit_ids:
        return {}
    found = db.session.scalars(_VISIT_THREADS, {"ids": visit_ids})
    return {thread.visit_id: thread for thread in found}


def write_about_visit(visit: Visit, author: Author, body: str, upload=None, form_key: str = "") -> MessageThread:
    """A message in the visit's own thread, made with the first message (two at once make one thread; the same
    form sent twice, one message)."""
    text, _title = _checked(body)
    file = _file(upload)
    thread = visit_thread(visit)
    if thread is None:
        thread = MessageThread(client_id=visit.client_id, visit_id=visit.id,
                               subject=_("About the visit on %(day)s", day=formatted(visit.day, "day")))
        if not _opened(thread):  # opened by another message at the same moment
            thread = visit_thread(visit)
    message = _add(thread, author, text, file, form_key=form_key)
    if message is None:
        _sent_before(thread, form_key)
        return thread
    _tell(thread, message)
    return thread


@dataclass
class Contact:
    name: str
    email: str
    phone: str
    subject: str
    body: str


def contact(sent: Contact, signed_key: str, honeypot: str) -> str:
    """The public Contact page. Returns "sent", "again" (this form was sent before) or "ignored" (a robot's); all
    three answer alike. The office is told, with the profile the address belongs to when there is one (the thread
    stays a visitor's: anyone may type a client's address)."""
    if honeypot.strip():
        return "ignored"
    errors = {}
    name = " ".join((sent.name or "").split())[:160]
    if not name:
        errors["name"] = _("Tell us your name.")
    try:
        clean_email(normalize_email(sent.email))
    except DomainError as error:
        errors["email"] = error.message
    _checked(sent.body, sent.subject, errors)
    try:
        key = spam.read_form_key(signed_key, CONTACT_SALT, MIN_SECONDS, MAX_AGE)
    except spam.TooFast:
        return "ignored"
    return "sent" if from_visitor(sent, key) else "again"


def from_visitor(sent: Contact, form_key: str | None = None) -> MessageThread | None:
    """A visitor's thread, as checked by `contact`; None when the form with this key was taken before."""
    text, title = _checked(sent.body, sent.subject)
    name = " ".join((sent.name or "").split())[:160]
    thread = MessageThread(subject=title, contact_name=name, contact_email=normalize_email(sent.email),
                           contact_phone=" ".join((sent.phone or "").split())[:40], form_key=form_key)
    if not _opened(thread):
        return None
    _tell_office(thread, _add(thread, None, text, name=name))
    return thread


def new_contact_key() -> str:
    return spam.new_form_key(CONTACT_SALT)


def known_client(thread: MessageThread) -> ClientProfile | None:
    """The profile a visitor's address is on, for staff to look at (never attached on its own)."""
    if not thread.contact_email:
        return None
    client_id = db.session.scalar(select(ClientEmail.client_id).where(
        func.lower(ClientEmail.email) == thread.contact_email.lower()).limit(1))
    return db.session.get(ClientProfile, client_id) if client_id else None


def _read_now(thread: MessageThread, staff: StaffUser, now: datetime) -> None:
    mark = db.session.get(MessageRead, (thread.id, staff.id))
    if mark is not None:
        mark.read_at = now
        return
    try:
        with db.session.begin_nested():  # the same thread opened in two tabs at once: one mark
            db.session.add(MessageRead(thread_id=thread.id, staff_id=staff.id, read_at=now))
    except IntegrityError:
        db.session.get(MessageRead, (thread.id, staff.id)).read_at = now


def mark_read(thread: MessageThread, viewer: Author) -> None:
    """The viewer has read the thread (staff: their own mark; a client login: the client's)."""
    if viewer.is_staff:
        _read_now(thread, viewer, utcnow())
    elif thread.unread_by_client:
        thread.client_read_at = utcnow()


def assignable() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).where(StaffUser.active.is_(True))
                                   .order_by(StaffUser.first_name, StaffUser.last_name)))


def assign(thread: MessageThread, staff_id: int | None, by: StaffUser) -> None:
    """Give the thread to a staff member (None: to nobody); they are emailed unless they did it themselves."""
    if staff_id is None:
        thread.assigned_to_id = None
        return
    staff = db.session.get(StaffUser, staff_id) if 0 < staff_id <= MAX_ID else None
    if staff is None or not staff.active:
        raise DomainError(_("Choose a staff member from the list."), "assigned_to")
    if thread.assigned_to_id == staff.id:
        return
    thread.assigned_to_id = staff.id
    db.session.flush()
    if staff.id != by.id:
        emails.send_message_assigned_email(thread, staff, by)
