"""Keys: who holds a client's key or knows the lockbox code, the notice staff get when a visit goes to a
sitter who does neither, and the lockbox code itself, shown to the assigned sitter on the day of her
visit only, every showing logged as a visit event.
"""
from __future__ import annotations

from typing import Iterable, Mapping, NamedTuple, Protocol

from sqlalchemy import and_, bindparam, or_, select

from extensions import db
from filters import gettext as _
from models import ClientProfile, KeyHolder, StaffUser, Visit, VisitEvent, VisitStatus, client_blocked_sitter
from services import checkins
from services.errors import DomainError, FieldErrors
from services.settings import get_settings

LOCKBOX_CODE_MAX = 40
# The visits whose lockbox code the assigned sitter may see on the day: booked ones, under way or done that day.
REVEALING = (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)
# A visit that will not happen needs no key.
NO_VISIT = (VisitStatus.CANCELLED, VisitStatus.DECLINED)
NO_VISIT_STATES = tuple(status.value for status in NO_VISIT)  # a calendar row's `state` (it has no `status`)


class AssignedVisit(Protocol):
    """What key_notices reads of a visit: a Visit, or any row with these (`status`, or a calendar row's `state`, and
    `uses_keys`, its client's, if it has them: a row that says its client uses no keys is left out before the
    query, and a cancelled or declined one gets no notice)."""

    id: int
    client_id: int
    sitter_id: int | None


def holder_choices(client: ClientProfile) -> list[StaffUser]:
    """The active team members who may hold this client's key: everyone the client has not blocked."""
    blocked = select(client_blocked_sitter.c.staff_id).where(client_blocked_sitter.c.client_id == client.id)
    return list(db.session.scalars(
        select(StaffUser).where(StaffUser.active.is_(True), StaffUser.id.not_in(blocked))
        .order_by(StaffUser.first_name, StaffUser.last_name)))


def save_holder(client: ClientProfile, staff_id: int | None, has_key: bool, knows_code: bool,
                notes: str = "") -> KeyHolder:
    """Record that a team member holds the client's key and/or knows its lockbox code (again: updated)."""
    staff = next((s for s in holder_choices(client) if s.id == staff_id), None) if staff_id else None
    if staff is None:
        raise FieldErrors({"staff_id": _("Choose a team member.")})
    if not has_key and not knows_code:
        raise FieldErrors({"has_key": _("Tick what they hold: a key, the lockbox code, or both.")})
    holder = next((h for h in client.key_holders if h.staff_id == staff.id), None)
    if holder is None:
        holder = KeyHolder(staff=staff)
        client.key_holders.append(holder)
    holder.has_key, holder.knows_code, holder.notes = has_key, knows_code, (notes or "").strip()
    db.session.flush()
    return holder


def remove_holder(client: ClientProfile, staff_id: int) -> StaffUser:
    """The team member no longer holds the client's key nor knows the code; returns who it was."""
    holder = next((h for h in client.key_holders if h.staff_id == staff_id), None)
    if holder is None:
        raise DomainError(_("That team member holds no key for %(client)s.", client=client.name))
    staff = holder.staff
    client.key_holders.remove(holder)
    db.session.flush()
    return staff


def set_lockbox_code(client: ClientProfile, code: str) -> ClientProfile:
    """Change (or with "" remove) the client's lockbox code."""
    code = (code or "").strip()
    if len(code) > LOCKBOX_CODE_MAX:
        raise FieldErrors({"lockbox_code": _("At most %(max)d characters.", max=LOCKBOX_CODE_MAX)})
    client.lockbox_code = code
    db.session.flush()
    return client


def reveal_code(visit: Visit, sitter: StaffUser) -> str:
    """The client's lockbox code for the sitter assigned to `visit`, on the visit's day only (past midnight too,
    while a late visit is still open: checkins.code_day); every showing is kept as a "code_shown" visit event.
    Refused (DomainError) to anyone else, on any other day, for a visit that is not booked, and when the client
    has no code."""
    if visit.sitter_id is None or visit.sitter_id != sitter.id:
        raise DomainError(_("Only the sitter of this visit can see the lockbox code."))
    if not checkins.code_day(visit):
        raise DomainError(_("The lockbox code is shown on the day of the visit only."))
    if visit.status not in REVEALING:
        raise DomainError(_("This visit is not booked, so its lockbox code is not shown."))
    code = visit.client.lockbox_code
    if not code:
        raise DomainError(_("There is no lockbox code for %(client)s.", client=visit.client.name))
    db.session.add(VisitEvent(visit_id=visit.id, kind="code_shown", staff_id=sitter.id, details={}, reason=""))
    db.session.flush()
    return code


class _Planned(NamedTuple):
    id: int
    client_id: int
    sitter_id: int | None


def key_notice(client_id: int, sitter_id: int | None) -> str:
    """The key notice for giving a visit of this client to this sitter (a request's review, a reassignment), or ""."""
    return key_notices([_Planned(0, client_id, sitter_id)]).get(0, "")


# key_notices' two queries, built once (calendars and the board run them on every load).
_HOLDERS = (
    select(ClientProfile.id, ClientProfile.first_name, ClientProfile.last_name, KeyHolder.staff_id)
    .outerjoin(KeyHolder, and_(KeyHolder.client_id == ClientProfile.id,
                               or_(KeyHolder.has_key.is_(True), KeyHolder.knows_code.is_(True))))
    .where(ClientProfile.id.in_(bindparam("ids", expanding=True)), ClientProfile.uses_keys.is_(True))
)
_SITTER_NAMES = select(StaffUser.id, StaffUser.first_name).where(StaffUser.id.in_(bindparam("ids", expanding=True)))


def key_notices(visits: Iterable[AssignedVisit], sitter_names: Mapping[int, str] | None = None) -> dict[int, str]:
    """{visit id: "Mia holds no key for Jane Smith"} for the visits to clients who use keys whose sitter
    neither holds a key nor knows the code. Nothing when the site option is off. At most two queries
    (besides the settings row), whatever the number of visits; one when the caller has read the sitters' first
    names already (`sitter_names`, by id: a calendar's rows carry them)."""
    if not get_settings().key_notices:
        return {}
    assigned = [v for v in visits if v.sitter_id is not None and getattr(v, "status", None) not in NO_VISIT
                and getattr(v, "state", None) not in NO_VISIT_STATES and getattr(v, "uses_keys", True)]
    if not assigned:
        return {}
    names: dict[int, str] = {}
    holders: dict[int, set[int]] = {}
    clients = sorted({v.client_id for v in assigned})
    for client_id, first, last, staff_id in db.session.execute(_HOLDERS, {"ids": clients}):
        names[client_id] = f"{first} {last}".strip()
        holders.setdefault(client_id, set()).add(staff_id)
    lacking = [v for v in assigned if v.client_id in names and v.sitter_id not in holders[v.client_id]]
    if not lacking:
        return {}
    wanted = {v.sitter_id for v in lacking}
    if sitter_names is not None and wanted <= sitter_names.keys():
        sitters = sitter_names
    else:
        sitters = dict(db.session.execute(_SITTER_NAMES, {"ids": sorted(wanted)}).all())
    return {v.id: _("%(sitter)s holds no key for %(client)s", sitter=sitters.get(v.sitter_id, ""),
                    client=names[v.client_id]) for v in lacking}
