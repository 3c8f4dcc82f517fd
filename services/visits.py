"""Visits: planning a request, its price and conflicts, staff decisions, cancelling, block-outs.

Times: a visit has a business-local `day` (for the calendars' indexed range queries) and UTC
`starts_at`/`ends_at`, computed from the local wall-clock window with zoneinfo, so a 08:00 walk
stays at 08:00 across a daylight-saving change.
"""
from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import NamedTuple

from dateutil.relativedelta import relativedelta
from flask import current_app
from icalendar import Calendar, Event
from sqlalchemy import Date, bindparam, select, true, update
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from filters import formatted, local_zone, money, ngettext
from filters import gettext as _
from models import (
    BOOKED,
    CUSTOM,
    WINDOWS,
    BlockOut,
    ClientLogin,
    ClientProfile,
    ClientStatus,
    CustomPrice,
    Pet,
    RequestStatus,
    Service,
    StaffUser,
    Visit,
    VisitEvent,
    VisitRequest,
    VisitStatus,
    as_utc,
    new_calendar_token,
    utcnow,
    visit_pet,
    visit_state,
    visit_state_label,
    window_label,
)
from services import emails, fees, signals
from services.errors import DomainError, FieldErrors
from services.settings import business, get_settings
from services.texts import bytewise

# Calendars start their weeks on Sunday, as clients of a US business expect.
WEEKS = calendar.Calendar(calendar.SUNDAY)
MAX_VISITS_PER_REQUEST = 200
# Visits not yet started that staff or the client may still change or cancel.
OPEN_STATES = (VisitStatus.REQUESTED, VisitStatus.SCHEDULED)
# Visits that take the client's time: a new one at the same time clashes.
TAKEN_STATES = (VisitStatus.REQUESTED, *BOOKED)


def local_moment(day: date, at: time) -> datetime:
    """A wall-clock time on a local day, as an aware UTC datetime (DST handled by zoneinfo)."""
    return datetime.combine(day, at, tzinfo=local_zone()).astimezone(timezone.utc)


def in_calendar(day: date) -> bool:
    """A day the calendars show: a year such as 9999 would overflow on its way to UTC."""
    return 1900 < day.year < 3000


def _calendar_errors(days: dict[str, date | None]) -> dict[str, str]:
    """{field: message} for the days (by field) that no calendar of ours holds."""
    return {name: _("Choose a day between the years 1901 and 2999.")
            for name, day in days.items() if day is not None and not in_calendar(day)}


@dataclass
class Plan:
    """What a request asks for, before it is saved."""

    services: list[Service]
    days: list[date]
    window: str
    start: time
    end: time
    pets: list[Pet]
    notes: str = ""


@dataclass
class PlannedVisit:
    day: date
    service: Service
    starts_at: datetime
    ends_at: datetime
    window: str
    price_cents: int

    @property
    def label(self) -> str:
        return window_label(self.window, self.starts_at, self.ends_at)


@dataclass
class Conflict:
    day: date
    message: str


@dataclass
class Clash:
    """A sitter's other booked visit at an overlapping time, or too close for the travel gap: a warning only."""

    day: date
    message: str


@dataclass
class Preview:
    visits: list[PlannedVisit] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    # Staff adding visits: those whose time is over (recorded as completed), and the sitter's clashes.
    recorded: list[PlannedVisit] = field(default_factory=list)
    clashes: list[Clash] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(v.price_cents for v in self.visits)


class ConflictError(DomainError):
    """A request that touches block-out days, booked visits or past times."""

    def __init__(self, conflicts: list[Conflict], booking: bool = False):
        """`booking`: staff booking visits themselves (they book; clients request)."""
        days = ", ".join(formatted(day, "day_short") for day in sorted({c.day for c in conflicts}))
        message = (_("Some days cannot be booked: %(days)s. See the notes below.", days=days) if booking
                   else _("Some days cannot be requested: %(days)s. See the notes below.", days=days))
        super().__init__(message, "dates")
        self.conflicts = conflicts


def dates_for(mode: str, start: date | None, end: date | None, days: list[date | None],
              weekdays: list[int]) -> list[date]:
    """The dates a request form asks for: every day of a range, chosen days, or a weekly repeat."""
    errors: dict[str, str] = {}
    if mode == "days":
        chosen = sorted({d for d in days if d})
        if not chosen:
            raise FieldErrors({"days": _("Choose at least one day.")})
        if not all(in_calendar(d) for d in chosen):
            raise FieldErrors(_calendar_errors({"days": next(d for d in chosen if not in_calendar(d))}))
        return chosen
    if start is None:
        errors["start"] = _("Choose the first day.")
    if end is None:
        errors["end"] = _("Choose the last day.")
    if mode == "weekly" and not weekdays:
        errors["weekdays"] = _("Choose the days of the week.")
    errors.update(_calendar_errors({"start": start, "end": end}))
    if errors:
        raise FieldErrors(errors)
    if end < start:
        raise FieldErrors({"end": _("The last day must be on or after the first day.")})
    if (end - start).days > 3 * 366:
        raise FieldErrors({"end": _("Ask for at most three years at a time.")})
    span = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    if mode == "weekly":
        span = [d for d in span if d.weekday() in weekdays]
        if not span:
            raise FieldErrors({"weekdays": _("None of those weekdays falls between the first and last day.")})
    return span


def times_for(window: str, start: time | None, end: time | None) -> tuple[time, time]:
    """The local start and end of a named window, or a checked custom range."""
    if window in WINDOWS:
        return WINDOWS[window][1], WINDOWS[window][2]
    if window != CUSTOM:
        raise FieldErrors({"window": _("Choose a time of day.")})
    errors = {}
    if start is None:
        errors["start_time"] = _("Enter a start time.")
    if end is None:
        errors["end_time"] = _("Enter an end time.")
    if errors:
        raise FieldErrors(errors)
    if end <= start:
        raise FieldErrors({"end_time": _("The end time must be after the start time.")})
    return start, end


def prices_for(client_id: int, services: list[Service], days: list[date]) -> dict[tuple[int, date], int]:
    """The price in force for each (service, day): one query for the client's custom price history."""
    history = db.session.execute(
        select(CustomPrice.service_id, CustomPrice.effective_on, CustomPrice.price_cents)
        .where(CustomPrice.client_id == client_id, CustomPrice.service_id.in_([s.id for s in services]),
               CustomPrice.effective_on <= max(days))
        .order_by(CustomPrice.effective_on, CustomPrice.id)
    ).all()
    prices = {}
    for service in services:
        changes = [(row.effective_on, row.price_cents) for row in history if row.service_id == service.id]
        for day in days:
            in_force = [cents for effective, cents in changes if effective <= day]
            prices[(service.id, day)] = in_force[-1] if in_force else service.base_price_cents
    return prices


def active_services() -> list[Service]:
    return list(db.session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name)))


def make_plan(client: ClientProfile, service_ids: list[int], pet_ids: list[int], mode: str, start: date | None,
              end: date | None, days: list[date | None], weekdays: list[int], window: str, start_time: time | None,
              end_time: time | None, notes: str = "") -> Plan:
    """Read a request's choices into a Plan; every problem is reported at once, beside its field."""
    errors: dict[str, str] = {}
    services = [s for s in active_services() if s.id in set(service_ids)]
    if not services:
        errors["services"] = _("Choose at least one service.")
    pets = [p for p in client.active_pets if p.id in set(pet_ids)]
    if not pets:
        errors["pets"] = _("Choose which pets the visits are for.")
    chosen: list[date] = []
    try:
        chosen = dates_for(mode, start, end, days, weekdays)
    except FieldErrors as error:
        errors.update(error.errors)
    starts = ends = None
    try:
        starts, ends = times_for(window, start_time, end_time)
    except FieldErrors as error:
        errors.update(error.errors)
    if errors:
        raise FieldErrors(errors)
    return Plan(services, chosen, window, starts, ends, pets, notes)


def plan_visits(client_id: int, plan: Plan) -> list[PlannedVisit]:
    if len(plan.days) * len(plan.services) > MAX_VISITS_PER_REQUEST:
        raise FieldErrors({"dates": ngettext("That is more than %(num)d visit: please split it into smaller requests.",
                                             "That is more than %(num)d visits: please split it into smaller requests.",
                                             MAX_VISITS_PER_REQUEST)})
    prices = prices_for(client_id, plan.services, plan.days)
    return [
        PlannedVisit(day, service, local_moment(day, plan.start), local_moment(day, plan.end), plan.window,
                     prices[(service.id, day)])
        for day in plan.days for service in plan.services
    ]


def find_conflicts(client_id: int, planned: list[PlannedVisit], ignore_visit_ids: tuple[int, ...] = (),
                   allow_past: bool = False) -> list[Conflict]:
    """Block-out days, the client's own requested or booked visits at the same time, and past times.

    `allow_past`: staff recording visits that already happened; a window that is over is allowed (it is
    recorded as completed), one under way is still refused."""
    if not planned:
        return []
    now = utcnow()
    days = sorted({p.day for p in planned})
    conflicts: list[Conflict] = []
    for p in planned:
        if p.ends_at <= p.starts_at:  # a wall-clock time the clocks skip: 2:30-3:15 AM ends before it starts
            conflicts.append(Conflict(p.day, _("%(day)s, %(when)s: the clocks change that night, so that time does "
                                                "not exist; choose another.", day=_day(p.day), when=p.label)))
        elif p.starts_at <= now and not allow_past:
            conflicts.append(Conflict(p.day, _("%(day)s, %(when)s: that time has already passed.", day=_day(p.day),
                                                when=p.label)))
        elif p.starts_at <= now < p.ends_at:
            conflicts.append(Conflict(p.day, _("%(day)s, %(when)s: that visit would be under way now; choose a later "
                                                "start, or add it once it is over.", day=_day(p.day), when=p.label)))
    blockouts = blockouts_between(days[0], days[-1])
    for day in days:
        for blockout in blockouts:
            if blockout.covers(day):
                conflicts.append(Conflict(day, _("%(day)s: we are closed: %(note)s.", day=_day(day), note=blockout.note)
                                          if blockout.note else _("%(day)s: we are closed.", day=_day(day))))
                break
    booked = db.session.scalars(
        select(Visit).options(joinedload(Visit.service))
        .where(Visit.client_id == client_id, Visit.day.in_(days), Visit.status.in_(TAKEN_STATES),
               Visit.id.not_in(ignore_visit_ids) if ignore_visit_ids else True)
    ).all()
    for p in planned:
        for visit in booked:
            if visit.day == p.day and as_utc(visit.starts_at) < p.ends_at and p.starts_at < as_utc(visit.ends_at):
                words = {"day": _day(p.day), "service": visit.service.name,
                         "when": window_label(visit.window, visit.starts_at, visit.ends_at)}
                conflicts.append(Conflict(p.day, _("%(day)s: %(service)s is booked %(when)s.", **words)
                                          if visit.status != VisitStatus.REQUESTED
                                          else _("%(day)s: %(service)s is already requested %(when)s.", **words)))
                break
    conflicts.sort(key=lambda c: c.day)
    return conflicts


def sitter_clashes(sitter: StaffUser | None, client_id: int, times: Iterable[tuple[datetime, datetime]],
                   ignore_visit_ids: Iterable[int] = ()) -> list[Clash]:
    """Where the sitter would be booked at overlapping times, or with less than the travel gap (site options)
    between two homes: her booked visits for other clients on the same local days. One query, whatever the
    number of visits. A warning for staff; nothing is refused.

    The client's own visits are left out: they are at the same home, and `find_conflicts` refuses overlaps."""
    planned = sorted((as_utc(starts), as_utc(ends)) for starts, ends in times)
    if sitter is None or not planned:
        return []
    zone = local_zone()
    days = sorted({starts.astimezone(zone).date() for starts, _ends in planned})
    ignore = tuple(ignore_visit_ids)
    gap = timedelta(minutes=get_settings().travel_gap_minutes or 0)
    rows = db.session.execute(
        select(Visit.id, Visit.day, Visit.window, Visit.starts_at, Visit.ends_at, Service.name,
               ClientProfile.first_name, ClientProfile.last_name)
        .join(Service, Service.id == Visit.service_id)
        .join(ClientProfile, ClientProfile.id == Visit.client_id)
        .where(Visit.sitter_id == sitter.id, Visit.day.in_(days),
               Visit.status.in_(BOOKED), Visit.client_id != client_id,
               Visit.id.not_in(ignore) if ignore else true())
        .order_by(Visit.starts_at, Visit.id)
    ).all()
    clashes = []
    for starts, ends in planned:
        day = starts.astimezone(zone).date()
        for row in rows:
            if row.day != day:
                continue
            other_starts, other_ends = as_utc(row.starts_at), as_utc(row.ends_at)
            words = {"day": _day(day), "when": window_label(CUSTOM, starts, ends), "sitter": sitter.first_name,
                     "other": window_label(row.window, other_starts, other_ends),
                     "client": f"{row.first_name} {row.last_name}", "service": row.name}
            if other_starts < ends and starts < other_ends:
                clashes.append(Clash(day, _("%(day)s, %(when)s: %(sitter)s is also booked %(other)s for %(client)s "
                                            "(%(service)s): the times overlap.", **words)))
                continue
            between = other_starts - ends if other_starts >= ends else starts - other_ends
            if between < gap:
                clashes.append(Clash(day, ngettext(
                    "%(day)s, %(when)s: %(sitter)s has only %(num)d minute to or from %(client)s (%(service)s, "
                    "%(other)s); the travel gap is %(gap)d minutes.",
                    "%(day)s, %(when)s: %(sitter)s has only %(num)d minutes to or from %(client)s (%(service)s, "
                    "%(other)s); the travel gap is %(gap)d minutes.",
                    int(between.total_seconds() // 60), gap=int(gap.total_seconds() // 60), **words)))
    return clashes


def reassign_clashes(visit: Visit, sitter: StaffUser | None) -> list[Clash]:
    """Before a reassignment: where the new sitter is booked elsewhere at the visit's time."""
    return sitter_clashes(sitter, visit.client_id, [(visit.starts_at, visit.ends_at)], (visit.id,))


def move_clashes(visit: Visit, day: date | None, window: str, start: time | None, end: time | None) -> list[Clash]:
    """Before a move: where the visit's sitter is booked elsewhere at the new time (none until it is complete)."""
    try:
        starts, ends = times_for(window, start, end)
    except FieldErrors:
        return []
    if day is None or not in_calendar(day):
        return []
    return sitter_clashes(visit.sitter, visit.client_id, [(local_moment(day, starts), local_moment(day, ends))],
                          (visit.id,))


def with_clashes(message: str, clashes: list[Clash]) -> str:
    """A success message that repeats the warnings shown before the decision."""
    if not clashes:
        return message
    return _("%(message)s Warning: %(clashes)s", message=message, clashes=" ".join(c.message for c in clashes))


def visit_clashes(visits_list: list[Visit]) -> list[Clash]:
    """The clashes of booked visits with their sitters' other visits (after approving, adding, changing), in
    one query per sitter: one, when the visits come from one decision."""
    clashes = []
    by_sitter: dict[int, list[Visit]] = {}
    for visit in visits_list:
        if visit.sitter_id is not None and visit.status in BOOKED:
            by_sitter.setdefault(visit.sitter_id, []).append(visit)
    for group in by_sitter.values():
        clashes += sitter_clashes(group[0].sitter, group[0].client_id, [(v.starts_at, v.ends_at) for v in group],
                                  [v.id for v in group])
    return clashes


def _day(day: date) -> str:
    return formatted(day, "day")


def preview(client_id: int, plan: Plan) -> Preview:
    planned = plan_visits(client_id, plan)
    return Preview(planned, find_conflicts(client_id, planned))


def staff_preview(client_id: int, plan: Plan, sitter: StaffUser | None) -> Preview:
    """What staff adding visits see before they add them: the price, what cannot be booked, the visits that
    already happened (recorded as completed) and where the sitter is booked elsewhere at the time."""
    planned = plan_visits(client_id, plan)
    now = utcnow()
    return Preview(planned, find_conflicts(client_id, planned, allow_past=True),
                   recorded=[p for p in planned if p.ends_at <= now],
                   clashes=sitter_clashes(sitter, client_id, [(p.starts_at, p.ends_at) for p in planned]))


def blockouts_between(first: date, last: date) -> list[BlockOut]:
    return list(db.session.scalars(_BLOCKOUTS_BETWEEN, {"first": first, "last": last}))


# Built once: every calendar reads these, and building a statement costs about what running one does.
_BLOCKOUTS_BETWEEN = select(BlockOut).where(BlockOut.ends_on >= bindparam("first"),
                                            BlockOut.starts_on <= bindparam("last")).order_by(BlockOut.starts_on)
_ACTIVE_STAFF = select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.first_name,
                                                                            StaffUser.last_name)


def _pets_of(client: ClientProfile, pets: list[Pet]) -> list[Pet]:
    if not pets:
        raise FieldErrors({"pets": _("Choose which pets the visits are for.")})
    if any(p.client_id != client.id or not p.active for p in pets):
        raise FieldErrors({"pets": _("Choose among your pets.")})
    return pets


def request_visits(client: ClientProfile, login: ClientLogin | None, plan: Plan,
                   staff: StaffUser | None = None, activate: bool = True) -> VisitRequest:
    """A client's request (or staff asking on their behalf): one request, its visits requested,
    the business told. Refused whole when any visit conflicts. A request from the public intake form
    (`activate` False) leaves a Prospect a Prospect: the office has not met them yet."""
    pets = _pets_of(client, plan.pets)
    _lock_client(client)
    planned = plan_visits(client.id, plan)
    conflicts = find_conflicts(client.id, planned)
    if conflicts:
        raise ConflictError(conflicts)
    visit_request = VisitRequest(client=client, login=login, created_by=staff, status=RequestStatus.PENDING,
                                 notes=plan.notes.strip(), decline_reason="")
    for p in planned:
        visit_request.visits.append(_new_visit(client, p, pets, VisitStatus.REQUESTED, plan.notes))
    db.session.add(visit_request)
    if activate:
        activate_prospect(client, visit_request.visits,
                          _("requested by the client") if staff is None else _("requested by staff"))
    db.session.flush()
    emails.send_request_received_email(visit_request)
    return visit_request


def add_visits(client: ClientProfile, plan: Plan, sitter: StaffUser | None, staff: StaffUser,
               price_cents: int | None = None) -> VisitRequest:
    """Staff book visits directly: scheduled at once, with a sitter; the client and the sitter are emailed.

    A visit whose time is already over is recorded as it happened: completed, checked in and out at the
    window staff entered, with a "recorded" event saying who recorded it."""
    if price_cents is not None and price_cents < 0:
        raise FieldErrors({"price": _("A price cannot be negative.")})
    pets = _pets_of(client, plan.pets)
    _check_sitter(client, sitter)
    _lock_client(client)
    planned = plan_visits(client.id, plan)
    conflicts = find_conflicts(client.id, planned, allow_past=True)
    if conflicts:
        raise ConflictError(conflicts, booking=True)
    now = utcnow()
    visit_request = VisitRequest(client=client, created_by=staff, status=RequestStatus.APPROVED, notes=plan.notes.strip(),
                                 decided_at=now, decided_by=staff, decline_reason="")
    recorded = []
    for p in planned:
        if price_cents is not None:
            p.price_cents = price_cents
        visit = _new_visit(client, p, pets, VisitStatus.SCHEDULED, plan.notes)
        visit.sitter = sitter
        if p.ends_at <= now:
            visit.status, visit.checked_in_at, visit.checked_out_at = VisitStatus.COMPLETED, p.starts_at, p.ends_at
            recorded.append(visit)
        visit_request.visits.append(visit)
    db.session.add(visit_request)
    activate_prospect(client, visit_request.visits, _("visit added by %(name)s", name=staff.first_name))
    db.session.flush()
    for visit in recorded:
        db.session.add(VisitEvent(visit_id=visit.id, kind="recorded", at=now, staff_id=staff.id,
                                  details={"checked_in_at": [None, as_utc(visit.checked_in_at).isoformat()],
                                           "checked_out_at": [None, as_utc(visit.checked_out_at).isoformat()]},
                                  reason=_("Recorded by staff after the visit")))
    scheduled = [v for v in visit_request.visits if v.status == VisitStatus.SCHEDULED]
    if scheduled:  # a visit recorded after the fact is news to no one
        emails.send_request_decided_email(visit_request)
        emails.send_sitter_assigned_email(sitter, scheduled, staff)
    return visit_request


def _lock_client(client: ClientProfile) -> None:
    """Hold the client's row until the request commits, so a double click or a second tab waits and then sees
    the visits the first one asked for (refused as already requested) instead of asking for them twice.

    PostgreSQL takes the row lock (SELECT ... FOR UPDATE); SQLite writes one transaction at a time anyway."""
    db.session.execute(select(ClientProfile.id).where(ClientProfile.id == client.id).with_for_update())


def _new_visit(client: ClientProfile, p: PlannedVisit, pets: list[Pet], status: VisitStatus, notes: str) -> Visit:
    return Visit(client=client, service=p.service, day=p.day, starts_at=p.starts_at, ends_at=p.ends_at, window=p.window,
                 price_cents=p.price_cents, status=status, pets=list(pets), notes=notes.strip(),
                 late_cancellation=False, cancelled_by="", reason="")


def activate_prospect(client: ClientProfile, visits: list[Visit], how: str) -> bool:
    """A Prospect's first visit priced above zero makes it Active; when and why are recorded."""
    if client.status != ClientStatus.PROSPECT:
        return False
    priced = [v for v in visits if v.price_cents > 0 and v.status in OPEN_STATES]
    if not priced:
        return False
    first = min(priced, key=lambda v: v.starts_at)
    client.status = ClientStatus.ACTIVE
    client.activated_at = utcnow()
    client.activated_reason = _("First priced visit (%(service)s, %(day)s) %(how)s.", service=first.service.name,
                                day=formatted(first.day), how=how)[:200]
    return True


def sitter_choices(client: ClientProfile) -> list[tuple[StaffUser, str]]:
    """Active staff who may visit this client, primary first then secondary; blocked sitters left out."""
    blocked = {s.id for s in client.blocked_sitters}
    staff = db.session.scalars(select(StaffUser).where(StaffUser.active.is_(True))
                               .order_by(StaffUser.first_name, StaffUser.last_name)).all()
    ranked = []
    for user in staff:
        if user.id in blocked:
            continue
        tag = "primary" if user.id == client.primary_sitter_id else "secondary" if user.id == client.secondary_sitter_id else ""
        ranked.append((0 if tag == "primary" else 1 if tag == "secondary" else 2, user, tag))
    ranked.sort(key=lambda r: r[0])
    return [(user, tag) for _, user, tag in ranked]


def suggested_sitter(client: ClientProfile) -> StaffUser | None:
    choices = sitter_choices(client)
    return choices[0][0] if choices and choices[0][1] else None


def _check_sitter(client: ClientProfile, sitter: StaffUser | None) -> None:
    if sitter is None:
        raise FieldErrors({"sitter_id": _("Choose a sitter.")})
    if not sitter.active:
        raise FieldErrors({"sitter_id": _("%(sitter)s is inactive and cannot be assigned visits.",
                                          sitter=sitter.first_name)})
    if sitter.id in {s.id for s in client.blocked_sitters}:
        raise FieldErrors({"sitter_id": _("%(sitter)s cannot be assigned to %(client)s: the client blocked this "
                                          "sitter.", sitter=sitter.first_name, client=client.name)})


@dataclass
class Approval:
    """Staff's decision on one requested visit: kept (with possibly new times and price) or not."""

    visit_id: int
    approve: bool
    start: time | None = None
    end: time | None = None
    price_cents: int | None = None


class AlreadyDecided(DomainError):
    pass


def decide_request(visit_request: VisitRequest, staff: StaffUser, approvals: list[Approval],
                   sitter: StaffUser | None, reason: str) -> VisitRequest:
    """Approve some or all visits of a pending request (the rest are declined with the reason).

    Claimed with a conditional UPDATE, so when two staff decide at once exactly one wins."""
    client = visit_request.client
    waiting = {v.id: v for v in visit_request.visits if v.status == VisitStatus.REQUESTED}
    if not waiting:
        raise DomainError(_("Nothing is left to decide: every visit of this request was cancelled."))
    chosen = {a.visit_id: a for a in approvals if a.approve and a.visit_id in waiting}
    reason = reason.strip()
    errors = {}
    if chosen:
        try:
            _check_sitter(client, sitter)
        except FieldErrors as error:
            errors.update(error.errors)
    if len(chosen) < len(waiting) and not reason:
        errors["reason"] = (_("Say why (the client reads it).") if chosen
                            else _("Say why you decline (the client reads it)."))
    changed: list[PlannedVisit] = []
    for approval in chosen.values():
        visit = waiting[approval.visit_id]
        if approval.start and approval.end:
            if approval.end <= approval.start:
                errors[f"end_{visit.id}"] = _("The end must be after the start.")
                continue
            visit_start, visit_end = local_moment(visit.day, approval.start), local_moment(visit.day, approval.end)
            if (visit_start, visit_end) != (as_utc(visit.starts_at), as_utc(visit.ends_at)):
                changed.append(PlannedVisit(visit.day, visit.service, visit_start, visit_end, CUSTOM, visit.price_cents))
                visit.window, visit.starts_at, visit.ends_at = CUSTOM, visit_start, visit_end
        if approval.price_cents is not None:
            if approval.price_cents < 0:
                errors[f"price_{visit.id}"] = _("A price cannot be negative.")
            else:
                visit.price_cents = approval.price_cents
    if errors:
        raise FieldErrors(errors)
    if changed:
        conflicts = find_conflicts(client.id, changed, tuple(waiting))
        if conflicts:
            raise ConflictError(conflicts, booking=True)
    status = (RequestStatus.APPROVED if len(chosen) == len(waiting)
              else RequestStatus.PARTIAL if chosen else RequestStatus.DECLINED)
    won = db.session.execute(
        update(VisitRequest)
        .where(VisitRequest.id == visit_request.id, VisitRequest.status == RequestStatus.PENDING)
        .values(status=status, decided_at=utcnow(), decided_by_id=staff.id, decline_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise AlreadyDecided(_("Someone else decided this request a moment ago; here is what they did."))
    for visit in waiting.values():
        if visit.id in chosen:
            visit.status, visit.sitter = VisitStatus.SCHEDULED, sitter
        else:
            visit.status, visit.reason = VisitStatus.DECLINED, reason
    db.session.flush()
    db.session.refresh(visit_request)
    scheduled = [v for v in visit_request.visits if v.status == VisitStatus.SCHEDULED]
    activate_prospect(client, scheduled, _("approved by %(name)s", name=staff.first_name))
    emails.send_request_decided_email(visit_request)
    if scheduled:
        emails.send_sitter_assigned_email(sitter, scheduled, staff)
    return visit_request


def decision_clashes(visit_request: VisitRequest, approvals: list[Approval], sitter: StaffUser | None) -> list[Clash]:
    """Before a decision: where the chosen sitter is booked elsewhere at the times of the visits to approve
    (as the form has them; times that do not make sense yet are taken as requested)."""
    waiting = {v.id: v for v in visit_request.visits if v.status == VisitStatus.REQUESTED}
    times = []
    for approval in approvals:
        visit = waiting.get(approval.visit_id)
        if visit is None or not approval.approve:
            continue
        if approval.start and approval.end and approval.start < approval.end:
            times.append((local_moment(visit.day, approval.start), local_moment(visit.day, approval.end)))
        else:
            times.append((visit.starts_at, visit.ends_at))
    return sitter_clashes(sitter, visit_request.client_id, times, tuple(waiting))


class FeeRose(DomainError):
    """The late cancellation fee is higher now than the one the client agreed to: nothing was cancelled."""


def cancel_visit(visit: Visit, by: ClientLogin | StaffUser, reason: str = "", now: datetime | None = None,
                 agreed_fee_cents: int | None = None) -> Visit:
    """Cancel a requested or scheduled visit. A client cancelling inside the cancellation window, or inside
    a fee tier, makes a late cancellation: the fee at this moment is kept on the visit for the next invoice,
    and staff are told. Staff give a reason, the client is told, and never pays a fee for it.

    A client is never charged more than the fee they were shown (`agreed_fee_cents`): a higher one (a tier
    began while they decided) refuses the cancellation (FeeRose) so they can decide again; a lower one is
    charged as it is."""
    reason = reason.strip()
    now = now or utcnow()
    by_staff = getattr(by, "is_staff", False)
    if by_staff and not reason:
        raise FieldErrors({"reason": _("Say why the visit is cancelled (the client reads it).")})
    if not by_staff and as_utc(visit.starts_at) <= now:
        raise DomainError(_("This visit has already started; call us to change it."))
    fee = fees.FREE if by_staff else fees.quote(visit, now)
    if not by_staff and agreed_fee_cents is not None and fee.cents > agreed_fee_cents:
        raise FeeRose(_("The fee went up while you were deciding: cancelling now costs %(fee)s (%(when)s). Nothing "
                        "was cancelled; confirm again if you still want to cancel.", fee=money(fee.cents),
                        when=fee.when_words))
    late = not by_staff and (is_late_cancellation(visit, now) or not fee.free)
    # The client's lock before the visit's row, in the order moving a visit or sending its invoice takes them.
    _lock_client(visit.client)
    was = visit.status
    # Still as the fee was worked out for it: one approved or moved meanwhile would be cancelled at the wrong fee.
    won = db.session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.status == visit.status, Visit.status.in_(OPEN_STATES),
               Visit.starts_at == visit.starts_at)
        .values(status=VisitStatus.CANCELLED, cancelled_at=now, cancelled_by="staff" if by_staff else "client",
                late_cancellation=late, reason=reason, late_fee_cents=fee.cents)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        db.session.refresh(visit)
        if visit.status in OPEN_STATES:
            raise DomainError(_("This visit changed a moment ago; look at it again before cancelling."))
        raise DomainError(_("This visit is no longer open: it was cancelled or declined already."))
    if visit.request_id is not None:
        _close_emptied_request(visit.request_id)
    db.session.refresh(visit)
    signals.visit_cancelled.send(visit, was=was)
    if by_staff:
        emails.send_visit_cancelled_email(visit, by)
    else:
        emails.send_client_cancelled_email(visit, by, fee)
    if visit.sitter is not None:
        emails.send_sitter_cancelled_email(visit, by)
    return visit


class NotChangeable(DomainError):
    """The visit is no longer scheduled and ahead: it started, was cancelled, or someone changed it meanwhile."""


def _check_changeable(visit: Visit) -> None:
    if visit.status != VisitStatus.SCHEDULED:
        raise NotChangeable(_("Only a scheduled visit can be changed; this one is %(state)s.",
                              state=str(visit.state_label).lower()))
    if as_utc(visit.starts_at) <= utcnow():
        raise NotChangeable(_("This visit has already started; it can no longer be changed."))


def reassign_visit(visit: Visit, sitter: StaffUser | None, staff: StaffUser) -> Visit:
    """Give a scheduled visit that has not started to another sitter; the client and both sitters are told.

    A conditional UPDATE (still scheduled, not started, still the old sitter's) makes a double submit or two
    managers at once record one change."""
    _check_changeable(visit)
    _check_sitter(visit.client, sitter)
    old = visit.sitter
    if old is not None and old.id == sitter.id:
        raise FieldErrors({"sitter_id": _("%(sitter)s already has this visit.", sitter=sitter.first_name)})
    now = utcnow()
    won = db.session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.status == VisitStatus.SCHEDULED, Visit.starts_at > now,
               Visit.sitter_id == old.id if old is not None else Visit.sitter_id.is_(None))
        .values(sitter_id=sitter.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise NotChangeable(_("Someone changed this visit a moment ago; here it is as it is now."))
    db.session.add(VisitEvent(visit_id=visit.id, kind="reassigned", at=now, staff_id=staff.id,
                              details={"sitter": [old.name if old else None, sitter.name],
                                       "sitter_id": [old.id if old else None, sitter.id]}))
    db.session.refresh(visit)
    emails.send_visit_reassigned_email(visit, old)
    emails.send_sitter_assigned_email(sitter, [visit], staff)
    if old is not None:
        emails.send_sitter_unassigned_email(old, visit, staff)
    return visit


def move_visit(visit: Visit, day: date | None, window: str, start: time | None, end: time | None,
               staff: StaffUser) -> Visit:
    """Move a scheduled visit that has not started to another day or time, checked as a new visit would be
    (block-outs, the client's other visits, past times); the client and the sitter are told."""
    _check_changeable(visit)
    errors = {}
    if day is None:
        errors["day"] = _("Choose the day.")
    errors.update(_calendar_errors({"day": day}))
    try:
        starts, ends = times_for(window, start, end)
    except FieldErrors as error:
        errors.update(error.errors)
    if errors:
        raise FieldErrors(errors)
    new_starts, new_ends = local_moment(day, starts), local_moment(day, ends)
    old_starts, old_ends = as_utc(visit.starts_at), as_utc(visit.ends_at)
    if (new_starts, new_ends) == (old_starts, old_ends):
        raise FieldErrors({"day": _("The visit is at that time already.")})
    client = visit.client
    _lock_client(client)
    planned = PlannedVisit(day, visit.service, new_starts, new_ends, window, visit.price_cents)
    conflicts = find_conflicts(client.id, [planned], ignore_visit_ids=(visit.id,))
    if conflicts:
        raise FieldErrors({"day": " ".join(c.message for c in conflicts)})
    old_day, old_window = visit.day, visit.window
    now = utcnow()
    won = db.session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.status == VisitStatus.SCHEDULED, Visit.starts_at > now,
               Visit.starts_at == visit.starts_at, Visit.ends_at == visit.ends_at)
        .values(day=day, starts_at=new_starts, ends_at=new_ends, window=window)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise NotChangeable(_("Someone changed this visit a moment ago; here it is as it is now."))
    db.session.add(VisitEvent(visit_id=visit.id, kind="moved", at=now, staff_id=staff.id,
                              details={"starts_at": [old_starts.isoformat(), new_starts.isoformat()],
                                       "ends_at": [old_ends.isoformat(), new_ends.isoformat()],
                                       "day": [old_day.isoformat(), day.isoformat()],
                                       "window": [old_window, window]}))
    was = _("%(day)s, %(when)s", day=_day(old_day), when=window_label(old_window, old_starts, old_ends))
    db.session.refresh(visit)
    emails.send_visit_moved_email(visit, was)
    if visit.sitter is not None:
        emails.send_sitter_visit_moved_email(visit, was, staff)
    return visit


def _close_emptied_request(request_id: int) -> None:
    """A pending request whose visits were all cancelled is cancelled too: nothing is left to decide."""
    still_requested = (select(Visit.id)
                       .where(Visit.request_id == request_id, Visit.status == VisitStatus.REQUESTED).exists())
    db.session.execute(
        update(VisitRequest)
        .where(VisitRequest.id == request_id, VisitRequest.status == RequestStatus.PENDING, ~still_requested)
        .values(status=RequestStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )


def is_late_cancellation(visit: Visit, now: datetime | None = None) -> bool:
    """A scheduled visit cancelled by the client less than the set number of hours before it starts."""
    window = timedelta(hours=get_settings().cancellation_hours)
    return visit.status == VisitStatus.SCHEDULED and as_utc(visit.starts_at) - (now or utcnow()) < window


def add_blockout(starts_on: date, ends_on: date | None, note: str, staff: StaffUser) -> tuple[BlockOut, list[Visit]]:
    """Close one day or a range. Open visits inside it are returned for staff to handle, and
    each affected client is emailed once."""
    ends_on = ends_on or starts_on
    if ends_on < starts_on:
        raise FieldErrors({"ends_on": _("The last day must be on or after the first day.")})
    covering = db.session.scalar(select(BlockOut).where(BlockOut.starts_on <= starts_on, BlockOut.ends_on >= ends_on)
                                 .order_by(BlockOut.starts_on).limit(1))
    if covering is not None:  # a second block-out would only email the same clients again
        closed = (_day(covering.starts_on) if covering.starts_on == covering.ends_on
                  else _("%(first)s–%(last)s", first=_day(covering.starts_on), last=_day(covering.ends_on)))
        raise FieldErrors({"starts_on": _("These days are already closed (%(closed)s). Remove that block-out "
                                          "first to change it.", closed=closed)})
    blockout = BlockOut(starts_on=starts_on, ends_on=ends_on, note=note.strip(), created_by=staff)
    db.session.add(blockout)
    affected = open_visits_inside(blockout)
    by_client: dict[int, list[Visit]] = {}
    for visit in affected:
        by_client.setdefault(visit.client_id, []).append(visit)
    db.session.flush()
    for client_visits in by_client.values():
        emails.send_blockout_notice_email(blockout, client_visits)
    return blockout, affected


def open_visits_inside(blockout: BlockOut) -> list[Visit]:
    """The requested and scheduled visits on a block-out's days: staff cancel or move them."""
    return visits_between(blockout.starts_on, blockout.ends_on, states=OPEN_STATES)


def delete_blockout(blockout: BlockOut) -> None:
    db.session.delete(blockout)


def visits_between(first: date, last: date, client_id: int | None = None, sitter_id: int | None = None,
                   states: tuple[VisitStatus, ...] | None = None) -> list[Visit]:
    """Visits on local days first..last with what the calendars show, in a fixed number of queries."""
    query = (
        select(Visit)
        .options(
            joinedload(Visit.service).load_only(Service.name),
            joinedload(Visit.sitter).load_only(StaffUser.first_name, StaffUser.last_name),
            joinedload(Visit.client).load_only(ClientProfile.first_name, ClientProfile.last_name,
                                               ClientProfile.uses_keys),
            selectinload(Visit.pets).load_only(Pet.name),
        )
    )
    query = _on_days(query, first, last, client_id, sitter_id)
    if states:
        query = query.where(Visit.status.in_(states))
    return list(db.session.scalars(query))


def _on_days(query, first, last, client_id, sitter_id):
    """Visits on local days first..last, of one client or one sitter if given, in time order (each a value, or a
    bound parameter in a statement built once)."""
    query = query.where(Visit.day >= first, Visit.day <= last).order_by(Visit.starts_at, Visit.id)
    if client_id is not None:
        query = query.where(Visit.client_id == client_id)
    if sitter_id is not None:
        query = query.where(Visit.sitter_id == sitter_id)
    return query


class CalendarVisit(NamedTuple):
    """What a calendar shows of one visit, read as plain columns (calendars list hundreds at once: a named tuple
    is made in a third of a frozen dataclass's time)."""

    id: int
    day: date
    state: str
    when: str
    service: str
    pets: str
    sitter: str
    client_name: str
    uses_keys: bool
    client_id: int = 0
    sitter_id: int | None = None

    @property
    def state_label(self) -> str:
        return visit_state_label(self.state)


def calendar_visits(first: date, last: date, client_id: int | None = None, sitter_id: int | None = None,
                    open_only: bool = False, limit: int | None = None) -> list[CalendarVisit]:
    """The visits on local days first..last for a calendar, with their pets' names: one query, whatever their
    number (a row per visit and pet, joined; on PostgreSQL a second query for the pets cost as much as the first)."""
    now = utcnow()
    statement = _calendar_statement(client_id is not None, sitter_id is not None, open_only, limit is not None)
    found: list[CalendarVisit] = []
    row = pets = None
    # Plain rows from the session's connection: the ORM's execution layer adds nothing to columns.
    rows = db.session.connection().execute(statement, {"first": first, "last": last, "client_id": client_id,
                                                       "sitter_id": sitter_id, "now": now, "limit": limit}).all()
    for next_row in rows:
        if row is not None and next_row[0] != row[0]:
            found.append(_calendar_visit(row, pets, now))
        if row is None or next_row[0] != row[0]:
            row, pets = next_row, []
        if next_row[-1] is not None:
            pets.append(next_row[-1])
    if row is not None:
        found.append(_calendar_visit(row, pets, now))
    return found


@lru_cache(maxsize=16)
def _calendar_statement(by_client: bool, by_sitter: bool, open_only: bool, limited: bool):
    """calendar_visits' query for one shape of its arguments, built once (calendars are the busiest pages)."""
    query = (
        select(Visit.id, Visit.day, Visit.status, Visit.window, Visit.starts_at, Visit.ends_at, Service.name,
               StaffUser.first_name, ClientProfile.first_name, ClientProfile.last_name, ClientProfile.uses_keys,
               Visit.client_id, Visit.sitter_id, Pet.name)
        .join(Service, Service.id == Visit.service_id)
        .join(ClientProfile, ClientProfile.id == Visit.client_id)
        .outerjoin(StaffUser, StaffUser.id == Visit.sitter_id)
        .outerjoin(visit_pet, visit_pet.c.visit_id == Visit.id)
        .outerjoin(Pet, Pet.id == visit_pet.c.pet_id)
    )
    shown = _on_days(select(Visit.id) if limited else query, bindparam("first", type_=Date),
                     bindparam("last", type_=Date), bindparam("client_id") if by_client else None,
                     bindparam("sitter_id") if by_sitter else None)
    if open_only:
        shown = shown.where(Visit.status.in_((*OPEN_STATES, VisitStatus.IN_PROGRESS)),
                            Visit.ends_at > bindparam("now", type_=Visit.ends_at.type))
    if limited:  # the first `limit` visits, then their rows
        shown = query.where(Visit.id.in_(shown.limit(bindparam("limit")).scalar_subquery())).order_by(
            Visit.starts_at, Visit.id)
    return shown.order_by(Pet.name)


def _calendar_visit(row, pets: list[str], now: datetime) -> CalendarVisit:
    visit_id, day, status, window, starts, ends, service, sitter, first_name, last_name, uses_keys, client_id, \
        sitter_id, _ = row
    return CalendarVisit(id=visit_id, day=day, state=visit_state(status, ends, now),
                         when=window_label(window, starts, ends), service=service, pets=", ".join(pets),
                         sitter=sitter or "", client_name=f"{first_name} {last_name}", uses_keys=uses_keys,
                         client_id=client_id, sitter_id=sitter_id)


def pending_requests(status: str = "pending", q: str = "", page_size: int = 50) -> list[VisitRequest]:
    """The staff queue, newest first, with what each card shows loaded up front."""
    query = (
        select(VisitRequest)
        .options(
            joinedload(VisitRequest.client).load_only(ClientProfile.first_name, ClientProfile.last_name,
                                                      ClientProfile.uses_keys, ClientProfile.key_notes,
                                                      ClientProfile.status),
            joinedload(VisitRequest.login).load_only(ClientLogin.first_name, ClientLogin.email),
            selectinload(VisitRequest.visits).joinedload(Visit.service).load_only(Service.name),
            selectinload(VisitRequest.visits).selectinload(Visit.pets).load_only(Pet.name),
            selectinload(VisitRequest.visits).joinedload(Visit.sitter).load_only(StaffUser.first_name),
        )
        .order_by(VisitRequest.created_at.desc(), VisitRequest.id.desc())
        .limit(page_size)
    )
    if status and status != "all":
        query = query.where(VisitRequest.status == RequestStatus(status))
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.join(VisitRequest.client).where(bytewise(ClientProfile.search_text).like(like))
    return list(db.session.scalars(query).unique())


def load_request(request_id: int, viewer: StaffUser | ClientLogin) -> VisitRequest | None:
    """A visit request with its visits, for owners and managers (and the client who owns it)."""
    query = (
        select(VisitRequest).where(VisitRequest.id == request_id)
        .options(selectinload(VisitRequest.visits).selectinload(Visit.pets),
                 selectinload(VisitRequest.visits).joinedload(Visit.service),
                 joinedload(VisitRequest.client).selectinload(ClientProfile.blocked_sitters))
    )
    if not viewer.is_staff:
        query = query.where(VisitRequest.client_id == viewer.client_id)
    elif not viewer.can_manage:
        return None
    return db.session.scalar(query)


def load_visit(visit_id: int, viewer: StaffUser | ClientLogin) -> Visit | None:
    """A visit, if the viewer may see it: managers any, a sitter the visits assigned to her, a client their own."""
    query = select(Visit).where(Visit.id == visit_id)
    if not viewer.is_staff:
        query = query.where(Visit.client_id == viewer.client_id)
    elif not viewer.can_manage:
        query = query.where(Visit.sitter_id == viewer.id)
    return db.session.scalar(query)


def sitters() -> list[StaffUser]:
    return list(db.session.scalars(_ACTIVE_STAFF))


def reset_feed(account: ClientLogin | StaffUser) -> None:
    """A new secret for the account's iCal feed: the old URL stops working at once."""
    account.calendar_token = new_calendar_token()


def feed_owner(token: str) -> ClientLogin | StaffUser | None:
    """The active account whose feed secret this is."""
    if not token or len(token) > 64:
        return None
    for model in (ClientLogin, StaffUser):
        owner = db.session.scalar(select(model).where(model.calendar_token == token, model.active.is_(True)))
        if owner is not None:
            return owner
    return None


def feed_visits(owner: ClientLogin | StaffUser, today: date) -> list[Visit]:
    """Scheduled visits for a feed: from 60 days back, for the client's profile or the sitter."""
    first, last = today - timedelta(days=60), today + timedelta(days=3 * 366)
    if getattr(owner, "is_staff", False):
        return visits_between(first, last, sitter_id=owner.id, states=BOOKED)
    return visits_between(first, last, client_id=owner.client_id, states=BOOKED)


def calendar_feed(owner: ClientLogin | StaffUser, today: date) -> bytes:
    """An iCalendar document of the owner's scheduled visits, in the business's time zone."""
    zone = local_zone()
    name = business().name
    host = current_app.config["BASE_URL"].split("//", 1)[-1].split("/", 1)[0] or "pawtal"
    calendar = Calendar()
    calendar.add("prodid", "-//Pawtal//Visits//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", _("%(business)s visits", business=name))
    calendar.add("x-wr-timezone", zone.key)
    staff_feed = getattr(owner, "is_staff", False)
    for visit in feed_visits(owner, today):
        pets = ", ".join(p.name for p in visit.pets)
        event = Event()
        event.add("uid", f"visit-{visit.id}@{host}")
        event.add("dtstamp", utcnow())
        event.add("dtstart", as_utc(visit.starts_at).astimezone(zone))
        event.add("dtend", as_utc(visit.ends_at).astimezone(zone))
        who = f"{visit.client.name}: " if staff_feed else ""
        event.add("summary", f"{who}{visit.service.name} ({pets})" if pets else f"{who}{visit.service.name}")
        lines = [window_label(visit.window, visit.starts_at, visit.ends_at)]
        if visit.sitter and not staff_feed:
            lines.append(_("Sitter: %(name)s", name=visit.sitter.first_name))
        if visit.notes:
            lines.append(visit.notes)
        event.add("description", "\n".join(lines))
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def staff_by_id(staff_id: int | None) -> StaffUser | None:
    if not staff_id or not 0 < staff_id < 2**31:  # a number no id of ours can be
        return None
    return db.session.get(StaffUser, staff_id)



def parse_month(text: str | None, today: date) -> date:
    """ "2026-12" -> 1 Dec 2026; anything else is this month."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        return date(year, month, 1) if 1900 < year < 3000 else today.replace(day=1)
    except ValueError:
        return today.replace(day=1)


def parse_day(text: str | None) -> date | None:
    """An ISO date from a URL, or None (also for a year no calendar of ours shows: 9999 would overflow)."""
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day and in_calendar(day) else None


def shift_month(month: date, by: int) -> date:
    return month + relativedelta(months=by)


def month_weeks(month: date) -> list[list[date]]:
    """The weeks that cover a month, for a month grid (whole weeks, days of the next and last months too)."""
    return WEEKS.monthdatescalendar(month.year, month.month)


def week_of(day: date) -> list[date]:
    """The week (as the calendars start it) that holds `day`."""
    first = day - timedelta(days=(day.weekday() - WEEKS.firstweekday) % 7)
    return [first + timedelta(days=n) for n in range(7)]


def by_day(visits_list: list[Visit]) -> dict[date, list[Visit]]:
    grouped: dict[date, list[Visit]] = {}
    for visit in visits_list:
        grouped.setdefault(visit.day, []).append(visit)
    return grouped


def blocked_days(blockouts: list[BlockOut], first: date, last: date) -> dict[date, BlockOut]:
    days = {}
    for blockout in blockouts:
        day = max(blockout.starts_on, first)
        while day <= min(blockout.ends_on, last):
            days.setdefault(day, blockout)
            day += timedelta(days=1)
    return days
