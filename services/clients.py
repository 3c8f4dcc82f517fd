"""Client profiles: search, save with the site's field rules, territories and custom prices."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime

from sqlalchemy import Boolean, Select, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import joinedload

from extensions import db
from filters import gettext as _
from filters import lazy_gettext as _l
from models import (
    BOOKED,
    ClientEmail,
    ClientLogin,
    ClientProfile,
    ClientStatus,
    CustomPrice,
    Document,
    FormResponse,
    Invoice,
    LedgerEntry,
    Payment,
    Invitation,
    InvoiceLine,
    Pet,
    Photo,
    Service,
    StaffUser,
    Territory,
    TerritoryZip,
    Vaccination,
    Visit,
    VisitEvent,
    VisitRequest,
    VisitStatus,
    utcnow,
)
from services.accounts import clean_email
from services import signals
from services.uploads import drop_file_after_commit, stored_path
from services.errors import DomainError, FieldErrors
from services.loading import IDS, fill
from services.settings import apply_field_rules
from services.texts import bytewise

SORTS = {
    "name": (ClientProfile.last_name, ClientProfile.first_name),
    "status": (ClientProfile.status, ClientProfile.last_name),
    "created": (ClientProfile.created_at,),
    "city": (ClientProfile.city, ClientProfile.last_name),
}


ONBOARDING_FILTERS = {"incomplete": _l("Onboarding incomplete"), "complete": _l("Onboarding complete")}


@dataclass(frozen=True)
class ClientQuery:
    """The state of the client table, as it appears in the URL."""

    q: str = ""
    status: str = ""
    onboarding: str = ""
    sort: str = "name"
    direction: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> ClientQuery:
        sort = args.get("sort", "name")
        status = args.get("status", "")
        try:
            page = min(max(1, int(args.get("page", 1))), 100_000)  # a larger page would overflow the offset
        except ValueError:
            page = 1
        onboarding = args.get("onboarding", "")
        return cls(
            q=args.get("q", "").strip()[:100],
            status=status if status in {s.value for s in ClientStatus} else "",
            onboarding=onboarding if onboarding in ONBOARDING_FILTERS else "",
            sort=sort if sort in SORTS else "name",
            direction="desc" if args.get("dir") == "desc" else "asc",
            page=page,
        )

    def args(self, **changes) -> dict:
        """Query-string arguments for this state with `changes`, leaving defaults out."""
        values = {"q": self.q, "status": self.status, "onboarding": self.onboarding, "sort": self.sort,
                  "dir": self.direction, "page": self.page}
        values.update(changes)
        defaults = {"q": "", "status": "", "onboarding": "", "sort": "name", "dir": "asc", "page": 1}
        return {k: v for k, v in values.items() if v != defaults[k]}


STATUS_LABELS = {s: s.label for s in ClientStatus}  # enum attribute access is slow in a 25-row loop


@dataclass(frozen=True)
class ClientRow:
    """What one line of the client table shows, read as plain columns (no ORM objects)."""

    id: int
    first_name: str
    last_name: str
    city: str
    status: str
    status_label: str
    created_at: datetime
    territory: str
    email: str
    phone: str
    has_password: bool
    invited: bool
    onboarded: bool
    pets: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class ClientPage:
    rows: list[ClientRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def visible_clients(viewer: StaffUser | ClientLogin) -> Select:
    """Who may see which client, in one place: managers all, sitters their assigned ones, a client login its own."""
    stmt = select(ClientProfile)
    if not viewer.is_staff:
        return stmt.where(ClientProfile.id == viewer.client_id)
    if not viewer.can_manage:
        stmt = stmt.where(sitter_sees(viewer.id))
    return stmt


def sitter_sees(viewer):
    """A sitter's clients: those she is primary or secondary sitter of, and those with a visit assigned to her
    (a fill-in sitter needs the address, access and care notes of the homes she visits). A missed visit was hers
    to do as a completed one was; a cancelled one needs nothing of the profile, and its card links none."""
    assigned = select(Visit.id).where(Visit.sitter_id == viewer, Visit.client_id == ClientProfile.id,
                                      Visit.status.in_((*BOOKED, VisitStatus.MISSED))).exists()
    return or_(ClientProfile.primary_sitter_id == viewer, ClientProfile.secondary_sitter_id == viewer, assigned)


def visible_client_ids(viewer: StaffUser | ClientLogin) -> Select:
    return visible_clients(viewer).with_only_columns(ClientProfile.id)


_first_email = (
    select(ClientEmail.email)
    .where(ClientEmail.client_id == ClientProfile.id)
    .order_by(ClientEmail.is_primary.desc(), ClientEmail.id)
    .limit(1)
    .scalar_subquery()
)
_has_password = (
    select(ClientLogin.id)
    .where(ClientLogin.client_id == ClientProfile.id, ClientLogin.password_hash.is_not(None))
    .exists()
)
_invited = (
    select(Invitation.id)
    .where(Invitation.client_id == ClientProfile.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None),
           Invitation.expires_at > bindparam("now"))
    .exists()
)
_ROW_COLUMNS = (
    ClientProfile.id, ClientProfile.first_name, ClientProfile.last_name, ClientProfile.city, ClientProfile.status,
    ClientProfile.created_at, func.coalesce(Territory.name, ""), func.coalesce(_first_email, ""),
    ClientProfile.mobile_phone, ClientProfile.home_phone, ClientProfile.work_phone, _has_password, _invited,
    ClientProfile.onboarding_complete,
)


def _sql():
    """The session's connection: the table reads plain rows, so it skips the ORM's execution layer."""
    return db.session.connection()


def search_clients(viewer: StaffUser, query: ClientQuery, per_page: int) -> ClientPage:
    """One page of the client table in three small queries, whatever the number of clients.

    A search scans `search_text` once: the total comes with the page (a window count) instead of
    from a second scan. Without a search, counting by index is cheaper than the window.
    """
    terms = [t.lower() for t in query.q.split()]
    term_digits = [digits(t) if len(digits(t)) >= 3 else "" for t in terms]
    params = {"viewer": viewer.id, "status": query.status or None, "onboarded": query.onboarding == "complete",
              "limit": per_page}
    for i, (term, term_digit) in enumerate(zip(terms, term_digits)):
        params[f"term{i}"] = "%" + re.sub(r"([/%_])", r"/\1", term) + "%"
        params[f"digits{i}"] = f"%{term_digit}%"
    shape = (not viewer.can_manage, bool(query.status), bool(query.onboarding), tuple(bool(d) for d in term_digits),
             query.sort, query.direction)
    if terms:
        searched = _ids_statement(*shape, counted=True, fenced=db.engine.dialect.name == "postgresql")
        found = _sql().execute(searched, {**params, "offset": (query.page - 1) * per_page}).all()
        if found or query.page == 1:
            return _page([i for i, _ in found], found[0][1] if found else 0, query.page, per_page)
    total = _sql().scalar(_count_statement(*shape[:4]), params)
    page = min(query.page, max(1, -(-total // per_page)))  # past the end: the last page
    ids = _sql().scalars(_ids_statement(*shape, counted=False), {**params, "offset": (page - 1) * per_page})
    return _page(ids.all(), total, page, per_page)


def _filtered(stmt: Select, sitter: bool, status: bool, onboarding: bool, term_kinds: tuple[bool, ...]) -> Select:
    """The table's filters as bound parameters, so one statement object serves every search of a shape."""
    if sitter:
        stmt = stmt.where(sitter_sees(bindparam("viewer")))
    if status:
        stmt = stmt.where(ClientProfile.status == bindparam("status", type_=ClientProfile.status.type))
    if onboarding:
        stmt = stmt.where(ClientProfile.onboarding_complete == bindparam("onboarded", type_=Boolean()))
    for i, with_digits in enumerate(term_kinds):
        condition = bytewise(ClientProfile.search_text).like(bindparam(f"term{i}"), escape="/")
        if with_digits:  # "555-0101" also finds the digits "5550101"
            condition = or_(condition, bytewise(ClientProfile.search_text).like(bindparam(f"digits{i}")))
        stmt = stmt.where(condition)
    return stmt


# Statements are built once per shape: SQLAlchemy then reuses their cache keys and compiled SQL.
@lru_cache(maxsize=256)
def _count_statement(sitter: bool, status: bool, onboarding: bool, term_kinds: tuple[bool, ...]) -> Select:
    return _filtered(select(func.count(ClientProfile.id)), sitter, status, onboarding, term_kinds)


@lru_cache(maxsize=256)
def _ids_statement(sitter: bool, status: bool, onboarding: bool, term_kinds: tuple[bool, ...], sort: str,
                   direction: str, counted: bool, fenced: bool = False) -> Select:
    """The page's ids in order (with the total matched when `counted`).

    `fenced` (PostgreSQL): the matching rows are found first, in a materialized CTE, then counted, sorted and cut.
    Without the fence the planner walks the whole name index to save a sort, fetching every client's row to test
    its search text (8 ms over 10,000 clients, against 4 ms for a scan): it does not see that the window count has
    to read every match before the first row comes out."""
    def ordered(columns):
        return [c.desc() if direction == "desc" else c.asc() for c in columns]

    if fenced:
        found = _filtered(select(ClientProfile.id, *SORTS[sort]), sitter, status, onboarding, term_kinds)
        found = found.cte("found").prefix_with("MATERIALIZED")
        stmt = select(found.c.id, func.count().over())
        order = ordered([found.c[c.key] for c in SORTS[sort]]) + [found.c.id]
        return stmt.order_by(*order).limit(bindparam("limit")).offset(bindparam("offset"))
    stmt = select(ClientProfile.id, *([func.count().over()] if counted else []))
    return _filtered(stmt, sitter, status, onboarding, term_kinds).order_by(
        *ordered(SORTS[sort]), ClientProfile.id).limit(bindparam("limit")).offset(bindparam("offset"))


# Built once: sorting and limiting happen on narrow rows above; these read the page's 25 wide ones.
_ROWS_BY_ID = (
    select(*_ROW_COLUMNS)
    .outerjoin(Territory, Territory.id == ClientProfile.territory_id)
    .where(ClientProfile.id.in_(bindparam("ids", expanding=True)))
)
_ACTIVE_PETS_BY_CLIENT = (
    select(Pet.client_id, Pet.name)
    .where(Pet.client_id.in_(bindparam("ids", expanding=True)), Pet.active)
    .order_by(Pet.client_id, Pet.name)
)


def _page(ids: list[int], total: int, page: int, per_page: int) -> ClientPage:
    rows, pets = {}, {}
    if ids:
        rows = {r[0]: r for r in _sql().execute(_ROWS_BY_ID, {"ids": ids, "now": utcnow()})}
        for client_id, name in _sql().execute(_ACTIVE_PETS_BY_CLIENT, {"ids": ids}):
            pets.setdefault(client_id, []).append(name)
    return ClientPage(
        rows=[ClientRow(id, first, last, city, status.value, STATUS_LABELS[status], created, territory, email,
                        mobile or home or work,
                        bool(has_password), bool(invited), bool(onboarded), tuple(pets.get(id, ())))
              for id, first, last, city, status, created, territory, email, mobile, home, work, has_password, invited,
              onboarded in (rows[i] for i in ids)],
        total=total, page=page, per_page=per_page,
    )


def load_client(client_id: int, viewer: StaffUser | ClientLogin) -> ClientProfile | None:
    """A client with everything its page shows, if `viewer` may see it (a client login: only its own)."""
    if not viewer.is_staff:
        if client_id != viewer.client_id:
            return None
        client = db.session.scalar(_OWN_PROFILE, {"client_id": client_id})
        if client is not None:
            fill([client], "emails", _EMAILS)
            fill([client], "pets", _PETS)
            fill(client.pets, "vaccinations", _VACCINATIONS)
        return client
    client = db.session.execute(_profile_statement(not viewer.can_manage),
                                {"client_id": client_id, "viewer": viewer.id}).unique().scalar_one_or_none()
    if client is not None:
        fill([client], "pets", _PETS)
        fill([client], "prices", _PRICES)
    return client


# A client login's own profile, for every portal page; built once, as below. Its collections, and the staff's
# profile's pets and prices, are read by statements built once too (services.loading), in each relationship's order.
_OWN_PROFILE = select(ClientProfile).where(ClientProfile.id == bindparam("client_id"))
_EMAILS = (select(ClientEmail.client_id, ClientEmail).where(ClientEmail.client_id.in_(IDS))
           .order_by(ClientEmail.is_primary.desc(), ClientEmail.id))
_PETS = select(Pet.client_id, Pet).where(Pet.client_id.in_(IDS)).order_by(Pet.name)
_VACCINATIONS = (select(Vaccination.pet_id, Vaccination).where(Vaccination.pet_id.in_(IDS))
                 .order_by(Vaccination.expires_on))
_PRICES = (select(CustomPrice.client_id, CustomPrice).where(CustomPrice.client_id.in_(IDS))
           .order_by(CustomPrice.effective_on.desc(), CustomPrice.id.desc()).options(joinedload(CustomPrice.service)))


@lru_cache(maxsize=2)
def _profile_statement(sitter: bool) -> Select:
    """Built once: with its nine loader options, building it anew costs more than running it."""
    return _filtered(select(ClientProfile), sitter, False, False, ()).where(
        ClientProfile.id == bindparam("client_id")
    ).options(
        # Emails, logins, invitations and blocked sitters are a few rows each: joined, not extra queries.
        joinedload(ClientProfile.emails),
        joinedload(ClientProfile.logins),
        joinedload(ClientProfile.invitations).joinedload(Invitation.sent_by),
        joinedload(ClientProfile.blocked_sitters),
        joinedload(ClientProfile.territory),
        joinedload(ClientProfile.vet),
        joinedload(ClientProfile.primary_sitter),
        joinedload(ClientProfile.secondary_sitter),
    )


def territory_for_zip(zip_code: str) -> int | None:
    zip_code = (zip_code or "").strip().upper()
    if not zip_code:
        return None
    return db.session.scalar(select(TerritoryZip.territory_id).where(TerritoryZip.zip == zip_code))


PROFILE_FIELDS = (
    "first_name", "last_name", "mobile_phone", "home_phone", "work_phone", "address_line1", "address_line2",
    "city", "state", "zip", "uses_keys", "key_notes", "vet_id", "emergency_name", "emergency_phone",
)
STAFF_ONLY_FIELDS = ("status", "staff_notes", "primary_sitter_id", "secondary_sitter_id", "blocked_sitter_ids",
                     "territory_id")


def save_client(client: ClientProfile | None, values: dict, staff_fields: bool = True) -> ClientProfile:
    """Create or update a profile from form values, enforcing field rules and sitter rules.

    `values["emails"]` is a list of (email, is_primary). Staff-only keys are ignored unless
    `staff_fields` (clients editing their own profile never set them).
    """
    values = apply_field_rules("client", values)
    errors: dict[str, str] = {}
    if not (values.get("first_name") or "").strip():
        errors["first_name"] = _("Enter a first name.")
    if not (values.get("last_name") or "").strip():
        errors["last_name"] = _("Enter a last name.")

    emails = None
    if values.get("uses_keys") is None and "uses_keys" in values:
        values["uses_keys"] = False
    if "emails" in values:
        emails = _clean_emails(values["emails"], client, errors)

    if staff_fields:
        _check_sitters(values, errors)
    if errors:
        raise FieldErrors(errors)

    if client is None:
        client = ClientProfile(status=ClientStatus.PROSPECT)
        db.session.add(client)
    for name in PROFILE_FIELDS:
        if name in values:
            value = values[name]
            if value is None and name not in ("vet_id", "uses_keys"):
                value = ""
            setattr(client, name, value.strip() if isinstance(value, str) else value)
    client.phone_digits = " ".join(digits(p) for p in (client.mobile_phone, client.home_phone, client.work_phone) if p)

    if staff_fields:
        if "status" in values and values["status"]:
            client.status = ClientStatus(values["status"])
        if "staff_notes" in values:
            client.staff_notes = (values["staff_notes"] or "").strip()
        for name in ("primary_sitter_id", "secondary_sitter_id"):
            if name in values:
                setattr(client, name, values[name])
        if "blocked_sitter_ids" in values:
            ids = set(values["blocked_sitter_ids"] or [])
            client.blocked_sitters = list(db.session.scalars(select(StaffUser).where(StaffUser.id.in_(ids)))) if ids else []
        if "territory_id" in values:
            client.territory_manual = values["territory_id"] is not None
            if client.territory_manual:
                client.territory_id = values["territory_id"]
    if not client.territory_manual:
        client.territory_id = territory_for_zip(client.zip)

    if emails is not None:
        _replace_emails(client, emails)
    client.refresh_search_text()
    db.session.flush()
    signals.client_changed.send(client)
    return client


def _clean_emails(pairs, client: ClientProfile | None, errors: dict) -> list[tuple[str, bool]]:
    cleaned: list[tuple[str, bool]] = []
    seen = set()
    for email, is_primary in pairs:
        if not (email or "").strip():
            continue
        try:
            email = clean_email(email, "emails")
        except DomainError as error:
            errors["emails"] = error.message
            continue
        if email in seen:
            continue
        seen.add(email)
        cleaned.append((email, bool(is_primary)))
    if cleaned and not any(p for _, p in cleaned):
        cleaned[0] = (cleaned[0][0], True)
    if cleaned:
        others = select(ClientEmail.email).where(ClientEmail.email.in_(seen))
        if client is not None and client.id is not None:
            others = others.where(ClientEmail.client_id != client.id)
        taken = db.session.scalars(others).first()
        if taken:
            errors["emails"] = _("%(email)s already belongs to another client.", email=taken)
    return cleaned


def _replace_emails(client: ClientProfile, emails: list[tuple[str, bool]]) -> None:
    by_address = {e.email: e for e in client.emails}
    kept = []
    for address, is_primary in emails:
        row = by_address.get(address) or ClientEmail(email=address)
        row.is_primary = is_primary
        kept.append(row)
    client.emails = kept


def _check_sitters(values: dict, errors: dict) -> None:
    primary, secondary = values.get("primary_sitter_id"), values.get("secondary_sitter_id")
    blocked = set(values.get("blocked_sitter_ids") or [])
    if primary and primary in blocked:
        errors["primary_sitter_id"] = _("This sitter is blocked for this client.")
    if secondary and secondary in blocked:
        errors["secondary_sitter_id"] = _("This sitter is blocked for this client.")
    if primary and secondary and primary == secondary:
        errors["secondary_sitter_id"] = _("Choose a different sitter from the primary one.")


def history_of(client: ClientProfile) -> int:
    """How many visits, visit requests, form answers, invoices, payments and account entries the client has on
    record (kept forever)."""
    return sum(db.session.scalar(select(func.count()).select_from(model).where(model.client_id == client.id))
               for model in (Visit, VisitRequest, FormResponse, Invoice, Payment, LedgerEntry))


def delete_client(client: ClientProfile) -> None:
    """Delete a client that has no history, with its pets, logins and files; one with history is only made inactive.

    The database refuses too (visits, requests and answers point at the client with ON DELETE RESTRICT).
    """
    if history_of(client):
        raise DomainError(_("%(name)s has visits, requests, form answers or billing on record, which are kept: set "
                            "the client's status to Inactive instead.", name=client.name))
    for photo in db.session.scalars(select(Photo).where(Photo.client_id == client.id)):
        drop_file_after_commit(stored_path("photos", photo.stored_name))
    for document in db.session.scalars(select(Document).where(Document.client_id == client.id)):
        drop_file_after_commit(stored_path("documents", document.stored_name))
    db.session.delete(client)


def price_on(client_id: int, service: Service, day: date) -> int:
    """The price in cents in force for a client's service on `day`: the latest custom price
    effective on or before that day, else the service's base price."""
    custom = db.session.scalar(
        select(CustomPrice.price_cents)
        .where(CustomPrice.client_id == client_id, CustomPrice.service_id == service.id, CustomPrice.effective_on <= day)
        .order_by(CustomPrice.effective_on.desc(), CustomPrice.id.desc())
        .limit(1)
    )
    return service.base_price_cents if custom is None else custom


# Visits a new custom price reprices: on the schedule and not started (nor in progress, done or cancelled).
REPRICED_STATES = (VisitStatus.REQUESTED, VisitStatus.SCHEDULED)


@dataclass
class PriceAdded:
    """A custom price added, and what it did to the client's visits already on the schedule."""

    price: CustomPrice
    repriced: int  # visits of the service from its date on, now at the new price
    invoiced: int  # visits in the same span already on an invoice (a draft too): they keep their price


def add_custom_price(client: ClientProfile, service_id: int, price_cents: int, effective_on: date,
                     acting: StaffUser) -> PriceAdded:
    """A client's own price for a service from a date on; the visits already booked from then on follow it."""
    service = db.session.get(Service, service_id)
    if service is None:
        raise DomainError(_("Choose a service."), "service_id")
    if price_cents < 0:
        raise DomainError(_("A price cannot be negative."), "price")
    price = CustomPrice(client=client, service=service, price_cents=price_cents, effective_on=effective_on,
                        created_by=acting)
    db.session.add(price)
    db.session.flush()
    return PriceAdded(price, *_reprice_booked(price, acting))


def _reprice_booked(price: CustomPrice, acting: StaffUser) -> tuple[int, int]:
    """Reprice the client's requested and scheduled visits of the service from the price's date up to the next
    custom price already set after it, each with a "repriced" event. A visit on an invoice, a draft too, keeps
    its price: the invoice says what it costs (take it off the draft, or void the invoice, to bill it anew).
    Returns (repriced, kept because invoiced)."""
    later = db.session.scalar(select(func.min(CustomPrice.effective_on)).where(
        CustomPrice.client_id == price.client_id, CustomPrice.service_id == price.service_id,
        CustomPrice.effective_on > price.effective_on))
    span = [Visit.client_id == price.client_id, Visit.service_id == price.service_id,
            Visit.day >= price.effective_on, Visit.status.in_(REPRICED_STATES), Visit.price_cents != price.price_cents]
    if later is not None:
        span.append(Visit.day < later)
    invoiced = exists().where(InvoiceLine.billed_visit_id == Visit.id, InvoiceLine.kind == "visit")
    kept = db.session.scalar(select(func.count(Visit.id)).where(*span, invoiced))
    old = dict(db.session.execute(select(Visit.id, Visit.price_cents).where(*span, ~invoiced)).all())
    if not old:
        return 0, kept
    # Checked again in the UPDATE itself: an invoice run billing one of them meanwhile leaves it alone.
    changed = db.session.execute(
        update(Visit).where(Visit.id.in_(old), *span, ~invoiced).values(price_cents=price.price_cents)
        .returning(Visit.id).execution_options(synchronize_session=False)).scalars().all()
    now = utcnow()
    db.session.add_all([VisitEvent(visit_id=visit_id, kind="repriced", at=now, staff_id=acting.id,
                                   details={"price_cents": [old[visit_id], price.price_cents]})
                        for visit_id in changed])
    return len(changed), kept + len(old) - len(changed)


def current_prices(client: ClientProfile, today: date) -> dict[int, CustomPrice]:
    """For each service, the custom price in force today (from the loaded history)."""
    in_force: dict[int, CustomPrice] = {}
    for price in client.prices:  # newest effective date first
        if price.effective_on <= today and price.service_id not in in_force:
            in_force[price.service_id] = price
    return in_force
