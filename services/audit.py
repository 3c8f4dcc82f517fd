"""The staff audit log: who changed which client's profile, pets, prices, sitters, key holders, portal logins, visits,
draft invoices and money, from what to what.

One session listener writes it (`init_app`): after each flush it reads the flushed objects of the audited
models and their attribute history (still there until the flush ends), and inserts one audit_event row per
changed field, written as people read it (money, dates, names). It runs after the flush, not before, so new rows
have their ids and new visits their client; its rows are one executemany INSERT on the flush's own transaction,
so a rolled-back request leaves no history of what it did not do. Names it needs come from the session's identity
map, or one query per kind of row missing from it, never one per change.
Changes made by an UPDATE statement (moving, reassigning, cancelling a visit) are seen by the VisitEvent the
service writes beside them, or by the signal it sends (`visit_cancelled`). Secrets (the lockbox code, a login's
password hash) are recorded only as changed, never their values; tokens and sign-in times are left out.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

from flask import current_app, has_app_context
from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.orm import Session

from extensions import db
from filters import formatted, local_datetime, money
from filters import gettext as _
from models import (
    CREDIT_REASONS, PAYMENT_METHODS, SEXES, VISIT_STATES, AuditEvent, ClientLogin, ClientProfile, CustomPrice,
    Invoice, InvoiceLine, KeyHolder, LedgerEntry, Payment, Pet, Service, StaffUser, Territory, Vet, Visit, VisitEvent,
    VisitStatus, as_utc, utcnow, window_label,
)
from services import signals

PER_PAGE = 50

# The profile's fields the log follows; the rest are kept by Pawtal itself (search text, phone digits, onboarding,
# Stripe's id, activation) and are noise here.
CLIENT_FIELDS = (
    "first_name", "last_name", "status", "mobile_phone", "home_phone", "work_phone", "address_line1", "address_line2",
    "city", "state", "zip", "territory_id", "uses_keys", "key_notes", "lockbox_code", "vet_id", "emergency_name",
    "emergency_phone", "staff_notes", "autopay", "primary_sitter_id", "secondary_sitter_id",
)
SITTER_FIELDS = ("primary_sitter_id", "secondary_sitter_id", "blocked_sitters")
SECRET_FIELDS = ("lockbox_code", "password_hash")  # the log says it changed, not to what
# A pet's fields as the log names them (the three parts of the birth date are one "born"); the photo is left out.
PET_FIELDS = ("name", "species", "breed", "sex", "colour", "weight", "description", "care_notes", "feeding",
              "medications", "active")
PET_BORN = ("born_year", "born_month", "born_day")
# A portal login's fields: who it is, whether it may sign in, its password (as changed only). Its session and
# calendar tokens, last sign-in and welcome are its own bookkeeping.
LOGIN_FIELDS = {"email": "email", "first_name": "first_name", "last_name": "last_name", "active": "active",
                "password_hash": "password"}
REFERENCES = {"territory_id": (Territory, "name"), "vet_id": (Vet, "clinic"), "primary_sitter_id": (StaffUser, "name"),
              "secondary_sitter_id": (StaffUser, "name"), "sitter_id": (StaffUser, "name"),
              "service_id": (Service, "name")}
VISIT_FIELDS = {"status": "status", "sitter_id": "sitter", "service_id": "service", "price_cents": "price",
                "notes": "notes"}
VISIT_WHEN = ("day", "starts_at", "ends_at", "window")
LEDGER = {"invoice": ("invoice", "issued"), "void": ("invoice", "voided"), "payment": ("payment", "received"),
          "credit": ("credit", "given"), "refund": ("refund", "refunded")}

Actor = tuple[str, int | None, int | None, str]  # kind, staff id, client login id, name


class _Missing(Exception):
    """A row a change names is not in the session yet: look the misses up together, then build again."""


class _Going(Exception):
    """The change belongs to a client deleted in this same flush: the client's own "deleted" row says it (a row
    naming the client would point at a row that is gone)."""


@dataclass
class _Lookup:
    """Rows by (model, id) from the session's identity map; misses are fetched in one query per model."""

    session: Session
    wanted: dict[type, set[int]] = field(default_factory=dict)
    # Rows this flush inserted: they join the identity map only once the flush is over.
    inserted: dict[tuple[type, Any], Any] = field(default_factory=dict)
    fetched: set[tuple[type, Any]] = field(default_factory=set)

    def get(self, model: type, ident: int | None):
        if ident is None:
            return None
        found = self.inserted.get((model, ident)) or \
            self.session.identity_map.get(self.session.identity_key(model, ident))
        if found is None and (model, ident) not in self.fetched:
            self.wanted.setdefault(model, set()).add(ident)
        return found

    def gone(self, model: type, ident: Any) -> bool:
        """Looked up and not there (removed meanwhile)."""
        return (model, ident) in self.fetched

    def fetch(self) -> None:
        with self.session.no_autoflush:
            for model, ids in self.wanted.items():
                self.session.scalars(select(model).where(model.id.in_(ids))).all()
                self.fetched.update((model, ident) for ident in ids)
        self.wanted = {}


def init_app(app, actor: Callable[[], Actor | None]) -> None:
    """Record changes in this app, with `actor()` saying who is making them (None: the system)."""
    app.extensions["pawtal_audit_actor"] = actor
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


def _actor() -> Actor:
    if has_app_context():
        who = current_app.extensions.get("pawtal_audit_actor")
        found = who() if who else None
        if found:
            return found
    return ("system", None, None, "")


def _after_flush(session: Session, flush_context) -> None:
    """Add an AuditEvent for each audited change this flush wrote."""
    # Deleted: what session.delete() marked, and the orphans this flush deleted with it (a key holder or an invoice
    # line taken off its list), which only the flush's unit of work knows of.
    deleted = {id(obj): obj for obj in session.deleted}
    for state in flush_context.states:
        if flush_context.is_deleted(state) and state.obj() is not None:
            deleted.setdefault(id(state.obj()), state.obj())
    changed = [(obj, "new") for obj in session.new] + [(obj, "dirty") for obj in session.dirty] + \
              [(obj, "deleted") for obj in deleted.values()]
    changed = [(obj, how) for obj, how in changed if type(obj) in _AUDITED]
    if not changed:
        return
    lookup = _Lookup(session, inserted={(type(obj), getattr(obj, "id", None)): obj for obj in session.new})
    for _attempt in range(4):  # a visit event names a visit, which names a sitter: a few rounds at most
        rows: list[dict] = []
        for obj, how in changed:
            try:
                rows += _AUDITED[type(obj)](obj, how, lookup)
            except _Missing:
                pass  # fetched below, then built again; a client that is gone leaves nothing to record
            except _Going:
                pass  # the client's own "deleted" row says it
        if not lookup.wanted:
            break
        lookup.fetch()
    if rows:
        _add(session, rows)


def _add(session: Session, rows: list[dict]) -> None:
    """Insert the rows in one statement (an executemany), on the flush's own connection and transaction."""
    kind, staff_id, login_id, name = _actor()
    now = utcnow()
    values = [dict(at=now, actor_kind=kind, staff_id=staff_id, login_id=login_id, staff_name=name[:200],
                   client_id=row["client_id"], client_name=row.get("client_name", "")[:200], kind=row["kind"],
                   object_id=row.get("object_id"), subject=row.get("subject", "")[:200], field=row["field"],
                   old_value=row.get("old_value", ""), new_value=row.get("new_value", "")) for row in rows]
    session.connection().execute(insert(AuditEvent), values)


def record(client: ClientProfile, kind: str, object_id: int | None, field_name: str, old: str, new: str,
           subject: str = "") -> None:
    """Record a change the listener cannot see (an UPDATE statement, announced by a signal)."""
    _add(db.session, [dict(client_id=client.id, client_name=client.name, kind=kind, object_id=object_id,
                           subject=subject, field=field_name, old_value=old, new_value=new)])


def _shown(value: Any, key: str = "", lookup: _Lookup | None = None) -> str:
    """A value as people read it: money, a date, a name for an id, Yes/No."""
    if value is None or value == "":
        return ""
    if key in REFERENCES and lookup is not None:
        model, attribute = REFERENCES[key]
        row = lookup.get(model, value)
        if row is None:
            if lookup.gone(model, value):
                return f"#{value}"
            raise _Missing
        return getattr(row, attribute)
    if key.endswith("_cents"):
        return money(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, enum.Enum):
        return str(getattr(value, "label", value.value))
    if isinstance(value, datetime):
        return local_datetime(value)
    if isinstance(value, date):
        return formatted(value)
    return str(value)


def _change(obj, key: str) -> tuple[Any, Any] | None:
    """(old, new) of a column attribute changed in this flush, else None."""
    history = inspect(obj).attrs[key].history
    if not history.has_changes():
        return None
    old = history.deleted[0] if history.deleted else None
    new = history.added[0] if history.added else None
    if old == new or (old in (None, "") and new in (None, "")):
        return None
    return old, new


def _client_rows(client: ClientProfile, how: str, lookup: _Lookup) -> list[dict]:
    base = dict(client_id=None if how == "deleted" else client.id, client_name=client.name, object_id=client.id)
    if how == "new":
        return [dict(base, kind="client", field="created", new_value=client.name)]
    if how == "deleted":
        return [dict(base, kind="client", field="deleted", old_value=client.name)]
    rows = []
    for key in CLIENT_FIELDS:
        change = _change(client, key)
        if change is None:
            continue
        old, new = _hidden(change) if key in SECRET_FIELDS else (_shown(v, key, lookup) for v in change)
        rows.append(dict(base, kind="sitters" if key in SITTER_FIELDS else "client", field=key,
                         old_value=old, new_value=new))
    for key, kind, name in (("emails", "client", lambda e: e.email), ("blocked_sitters", "sitters", lambda s: s.name)):
        history = inspect(client).attrs[key].history
        if not history.has_changes():
            continue
        before = [name(x) for x in (*history.unchanged, *history.deleted)]
        after = [name(x) for x in (*history.unchanged, *history.added)]
        if sorted(before) != sorted(after):
            rows.append(dict(base, kind=kind, field=key, old_value=", ".join(sorted(before)),
                             new_value=", ".join(sorted(after))))
    return rows


def _owner(obj, lookup: _Lookup) -> ClientProfile:
    client = lookup.get(ClientProfile, obj.client_id)
    if client is None:
        raise _Missing
    if client in lookup.session.deleted:
        raise _Going
    return client


def _hidden(change: tuple[Any, Any]) -> tuple[str, str]:
    """A secret's change as the log shows it: that there was a value, and that there is one, never what."""
    return tuple(_("(hidden)") if value else "" for value in change)


def _born(year: int | None, month: int | None, day: int | None) -> str:
    """A partial birth date as the pet's page shows it."""
    if not year:
        return ""
    if month and day:
        return formatted(date(year, month, day))
    if month:
        return formatted(date(year, month, 1), "short_month_year")
    return str(year)


def _pet_rows(pet: Pet, how: str, lookup: _Lookup) -> list[dict]:
    """A pet added, deleted, or changed field by field (made inactive is Active: Yes to No)."""
    client = _owner(pet, lookup)
    base = dict(client_id=client.id, client_name=client.name, kind="pet", object_id=pet.id, subject=pet.name)
    if how == "new":
        return [dict(base, field="created", new_value=pet.name)]
    if how == "deleted":
        return [dict(base, field="deleted", old_value=pet.name)]
    rows = []
    for key in PET_FIELDS:
        change = _change(pet, key)
        if change is not None:
            old, new = (str(SEXES.get(v, v)) if v else "" for v in change) if key == "sex" else \
                (_shown(v, key) for v in change)
            rows.append(dict(base, field=key, old_value=old, new_value=new))
    history = [inspect(pet).attrs[key].history for key in PET_BORN]
    if any(h.has_changes() for h in history):
        before = _born(*(h.deleted[0] if h.deleted else (h.unchanged or [None])[0] for h in history))
        after = _born(*(getattr(pet, key) for key in PET_BORN))
        if before != after:
            rows.append(dict(base, field="born", old_value=before, new_value=after))
    return rows


def _holding(has_key: bool, knows_code: bool, notes: str) -> str:
    held = [str(word) for flag, word in ((has_key, _("Key")), (knows_code, _("Lockbox code"))) if flag]
    return ", ".join(held) + (f" ({notes})" if notes else "")


def _key_holder_rows(holder: KeyHolder, how: str, lookup: _Lookup) -> list[dict]:
    """A team member given the client's key or the lockbox code (never the code itself), changed, or no longer."""
    client = _owner(holder, lookup)
    staff = lookup.get(StaffUser, holder.staff_id)
    if staff is None and not lookup.gone(StaffUser, holder.staff_id):
        raise _Missing
    base = dict(client_id=client.id, client_name=client.name, kind="keys", object_id=holder.id,
                subject=staff.name if staff is not None else f"#{holder.staff_id}", field="holds")
    now = _holding(holder.has_key, holder.knows_code, holder.notes)
    if how == "new":
        return [dict(base, new_value=now)]
    if how == "deleted":
        return [dict(base, old_value=now)]
    history = {key: inspect(holder).attrs[key].history for key in ("has_key", "knows_code", "notes")}
    before = _holding(*(h.deleted[0] if h.deleted else getattr(holder, key) for key, h in history.items()))
    return [dict(base, old_value=before, new_value=now)] if before != now else []


def _login_rows(login: ClientLogin, how: str, lookup: _Lookup) -> list[dict]:
    """A portal login added or deleted; its address, name, whether it may sign in and its password (as changed)."""
    client = _owner(login, lookup)
    base = dict(client_id=client.id, client_name=client.name, kind="login", object_id=login.id, subject=login.email)
    if how == "new":
        return [dict(base, field="created", new_value=login.name)]
    if how == "deleted":
        return [dict(base, field="deleted", old_value=login.name)]
    rows = []
    for key, name in LOGIN_FIELDS.items():
        change = _change(login, key)
        if change is not None:
            old, new = _hidden(change) if key in SECRET_FIELDS else (_shown(v, key) for v in change)
            rows.append(dict(base, field=name, old_value=old, new_value=new))
    return rows


def _invoice_of(obj, lookup: _Lookup) -> tuple[Invoice, ClientProfile]:
    invoice = obj if isinstance(obj, Invoice) else lookup.get(Invoice, obj.invoice_id)
    if invoice is None:
        raise _Missing
    return invoice, _owner(invoice, lookup)


def _line(line: InvoiceLine) -> str:
    return _("%(kind)s: %(what)s, %(amount)s", kind=line.kind_label, what=line.description,
             amount=money(line.amount_cents))


def _invoice_line_rows(line: InvoiceLine, how: str, lookup: _Lookup) -> list[dict]:
    """A line added to or taken off a draft (lines are never edited; a percent discount's amount follows the
    visits). The lines a billing run makes with a new draft are that draft, not edits of it."""
    if how == "dirty" or (Invoice, line.invoice_id) in lookup.inserted:
        return []
    invoice, client = _invoice_of(line, lookup)
    base = dict(client_id=client.id, client_name=client.name, kind="invoice", object_id=invoice.id,
                subject=invoice.title)
    if how == "new":
        return [dict(base, field="line_added", new_value=_line(line))]
    return [dict(base, field="line_removed", old_value=_line(line))]


def _invoice_rows(invoice: Invoice, how: str, lookup: _Lookup) -> list[dict]:
    """A due date changed once the invoice has one (issuing gives the first, and the issue is recorded already)."""
    change = _change(invoice, "due_on") if how == "dirty" else None
    if change is None or change[0] is None:
        return []
    invoice, client = _invoice_of(invoice, lookup)
    return [dict(client_id=client.id, client_name=client.name, kind="invoice", object_id=invoice.id,
                 subject=invoice.title, field="due_on", old_value=_shown(change[0]), new_value=_shown(change[1]))]


def _price_rows(price: CustomPrice, how: str, lookup: _Lookup) -> list[dict]:
    client = _owner(price, lookup)
    subject = _shown(price.service_id, "service_id", lookup)
    base = dict(client_id=client.id, client_name=client.name, kind="price", object_id=price.id, subject=subject)
    shown = _("%(price)s from %(day)s", price=money(price.price_cents), day=formatted(price.effective_on))
    if how == "new":
        return [dict(base, field="price", new_value=shown)]
    if how == "deleted":
        return [dict(base, field="price", old_value=shown)]
    rows = []
    for key, name in (("price_cents", "price"), ("effective_on", "effective_on")):
        change = _change(price, key)
        if change:
            rows.append(dict(base, field=name, old_value=_shown(change[0], key), new_value=_shown(change[1], key)))
    return rows


def _visit_subject(visit: Visit, lookup: _Lookup) -> str:
    return _("%(day)s, %(service)s", day=formatted(visit.day), service=_shown(visit.service_id, "service_id", lookup))


def _when(day: date, window: str, starts_at: datetime, ends_at: datetime) -> str:
    return _("%(day)s, %(when)s", day=formatted(day), when=window_label(window, as_utc(starts_at), as_utc(ends_at)))


def _status(status: VisitStatus | None) -> str:
    return str(VISIT_STATES.get(status.value, status.value)) if status else ""


def _visit_rows(visit: Visit, how: str, lookup: _Lookup) -> list[dict]:
    client = _owner(visit, lookup)
    base = dict(client_id=client.id, client_name=client.name, kind="visit", object_id=visit.id,
                subject=_visit_subject(visit, lookup))
    if how == "new":
        return [dict(base, field="booked", new_value=_("%(when)s (%(status)s)",
                                                        when=_when(visit.day, visit.window, visit.starts_at,
                                                                   visit.ends_at), status=_status(visit.status)))]
    if how == "deleted":
        return []
    rows = []
    for key, name in VISIT_FIELDS.items():
        change = _change(visit, key)
        if change is None:
            continue
        if key == "status":
            old, new = (_status(v) for v in change)
        else:
            old, new = (_shown(v, key, lookup) for v in change)
        rows.append(dict(base, field=name, old_value=old, new_value=new))
    history = {key: inspect(visit).attrs[key].history for key in VISIT_WHEN}
    if any(h.deleted and h.added and h.deleted[0] != h.added[0] for h in history.values()):
        before = [h.deleted[0] if h.deleted else h.unchanged[0] for h in history.values()]
        after = [getattr(visit, key) for key in VISIT_WHEN]
        rows.append(dict(base, field="when", old_value=_when(before[0], before[3], before[1], before[2]),
                         new_value=_when(after[0], after[3], after[1], after[2])))
    return rows


def _visit_event_rows(visit_event: VisitEvent, how: str, lookup: _Lookup) -> list[dict]:
    """A reassignment or move is an UPDATE statement; the event written beside it says from what to what."""
    if how != "new" or visit_event.kind not in ("reassigned", "moved"):
        return []
    visit = lookup.get(Visit, visit_event.visit_id)
    if visit is None:
        raise _Missing
    client = _owner(visit, lookup)
    base = dict(client_id=client.id, client_name=client.name, kind="visit", object_id=visit.id,
                subject=_visit_subject(visit, lookup))
    details = visit_event.details or {}
    if visit_event.kind == "reassigned":
        old, new = details.get("sitter", [None, None])
        return [dict(base, field="sitter", old_value=old or "", new_value=new or "")]
    parts = [details.get(key, [None, None]) for key in ("day", "window", "starts_at", "ends_at")]
    if not all(all(pair) for pair in parts):
        return []
    day, window, starts, ends = parts

    def when(i: int) -> str:
        return _when(date.fromisoformat(day[i]), window[i], datetime.fromisoformat(starts[i]),
                     datetime.fromisoformat(ends[i]))
    # Named by the day it was on, as the rest of its history names it.
    base["subject"] = _("%(day)s, %(service)s", day=formatted(date.fromisoformat(day[0])),
                        service=_shown(visit.service_id, "service_id", lookup))
    return [dict(base, field="when", old_value=when(0), new_value=when(1))]


def _ledger_rows(entry: LedgerEntry, how: str, lookup: _Lookup) -> list[dict]:
    """Money: each ledger entry (an invoice issued or voided, a payment, a credit, a refund) is one line."""
    if how != "new" or entry.kind not in LEDGER:
        return []
    client = _owner(entry, lookup)
    kind, name = LEDGER[entry.kind]
    subject = entry.memo
    if entry.invoice_id is not None:
        invoice = lookup.get(Invoice, entry.invoice_id)
        if invoice is None:
            raise _Missing
        subject = invoice.title
    elif entry.payment_id is not None:
        payment = lookup.get(Payment, entry.payment_id)
        if payment is None:
            raise _Missing
        method = CREDIT_REASONS.get(payment.reference) if entry.kind == "credit" else None
        subject = str(method or PAYMENT_METHODS.get(payment.method, payment.method))
    amount = money(abs(entry.amount_cents))
    row = dict(client_id=client.id, client_name=client.name, kind=kind, object_id=entry.invoice_id or entry.payment_id,
               subject=subject, field=name)
    return [dict(row, old_value=amount) if entry.kind == "void" else dict(row, new_value=amount)]


_AUDITED: dict[type, Callable[[Any, str, _Lookup], list[dict]]] = {
    ClientProfile: _client_rows, CustomPrice: _price_rows, Visit: _visit_rows, VisitEvent: _visit_event_rows,
    LedgerEntry: _ledger_rows, Pet: _pet_rows, KeyHolder: _key_holder_rows, ClientLogin: _login_rows,
    InvoiceLine: _invoice_line_rows, Invoice: _invoice_rows,
}


@signals.visit_cancelled.connect
def _visit_cancelled(visit: Visit, was: VisitStatus | None = None, **_extra) -> None:
    """Cancelling is an UPDATE statement the listener does not see: the service's signal says it."""
    new = _status(visit.status) + (f": {visit.reason}" if visit.reason else "")
    record(visit.client, "visit", visit.id, "status", _status(was), new,
           _("%(day)s, %(service)s", day=formatted(visit.day), service=visit.service.name))


@dataclass
class HistoryPage:
    """One page of a client's history, newest first, and the staff who appear in it (the filter's choices)."""

    events: list[AuditEvent]
    page: int
    pages: int
    total: int
    staff: list[tuple[int, str]]
    staff_id: int | None


def client_history(client_id: int, staff_id: int | None, page: int, per_page: int = PER_PAGE) -> HistoryPage:
    """A client's audit events, optionally by one staff member, a page at a time: three queries."""
    where = [AuditEvent.client_id == client_id]
    if staff_id is not None:
        where.append(AuditEvent.staff_id == staff_id)
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    events = list(db.session.scalars(select(AuditEvent).where(*where)
                                     .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                                     .offset((page - 1) * per_page).limit(per_page)))
    names: dict[int, str] = {}
    for staff, name in db.session.execute(
            select(AuditEvent.staff_id, AuditEvent.staff_name)
            .where(AuditEvent.client_id == client_id, AuditEvent.staff_id.is_not(None))
            .group_by(AuditEvent.staff_id, AuditEvent.staff_name)):
        names.setdefault(staff, name)
    staff_list = sorted(names.items(), key=lambda pair: pair[1].lower())
    return HistoryPage(events, page, pages, total, staff_list, staff_id)


def actor_of_login(login: ClientLogin) -> Actor:
    """A client's own login changing things in the portal."""
    name = f"{login.first_name} {login.last_name}".strip() or login.email
    return ("client", None, login.id, name)


def actor_of_staff(staff: StaffUser) -> Actor:
    return ("staff", staff.id, None, staff.name)

