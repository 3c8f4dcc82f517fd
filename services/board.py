"""The office's live board: one day's visits by sitter, each with where it stands right now.

Read as plain columns in a fixed number of queries (the day's visits with their service, client and
sitter; their pets), as the calendars are, so a busy day costs what a quiet one does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, select

from extensions import db
from filters import gettext as _
from filters import lazy_gettext as _l
from filters import local_zone
from models import (
    ClientProfile,
    Pet,
    Service,
    StaffUser,
    Visit,
    VisitStatus,
    as_utc,
    utcnow,
    visit_pet,
    window_label,
)
from services.keys import key_notices
from services.settings import get_settings

# What the board shows of a visit: state -> label. Late, missed and short are the ones the office acts on.
BOARD_STATES = {
    "late": _l("Late"),
    "missed": _l("Missed"),
    "short": _l("Short"),
    "in_progress": _l("In progress"),
    "done": _l("Done"),
    "unrecorded": _l("Completed, not checked in"),
    "to_come": _l("Not started"),
    "cancelled": _l("Cancelled"),
}
ALERTS = ("late", "missed", "short")
# The counts at the top, in the order they are read; each visit is counted once, under its own state.
COUNTED = ("late", "missed", "short", "in_progress", "done", "to_come")
# A key notice matters until the sitter is in: not on visits done or called off.
NEEDS_KEY = ("to_come", "late", "missed", "in_progress")
# Requested visits are not booked yet and declined ones never will be: the requests queue has them.
SHOWN_STATUSES = (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED, VisitStatus.MISSED,
                  VisitStatus.UNRECORDED, VisitStatus.CANCELLED)


def board_state(status: VisitStatus, starts_at: datetime, ends_at: datetime, checked_in_at: datetime | None,
                checked_out_at: datetime | None, duration_minutes: int, now: datetime, grace_minutes: int,
                short_percent: int) -> str:
    """Where a visit stands at `now` (aware UTC): a key of BOARD_STATES.

    Late: scheduled, no check-in, past the window's start plus the grace period. Missed: marked so, or
    the window ended with no check-in. Short: checked out after less than `short_percent` of the
    service's duration (as Visit.is_short).
    """
    if status == VisitStatus.CANCELLED:
        return "cancelled"
    if status == VisitStatus.MISSED:
        return "missed"
    if status == VisitStatus.UNRECORDED:
        return "unrecorded"
    if checked_in_at is not None and checked_out_at is not None:
        spent = as_utc(checked_out_at) - as_utc(checked_in_at)
        return "short" if spent < timedelta(minutes=duration_minutes * short_percent / 100) else "done"
    if status == VisitStatus.COMPLETED:
        return "done"
    if status == VisitStatus.IN_PROGRESS or checked_in_at is not None:
        return "in_progress"
    if now >= as_utc(ends_at):
        return "missed"
    if now > as_utc(starts_at) + timedelta(minutes=grace_minutes):
        return "late"
    return "to_come"


def span_text(span: timedelta | None) -> str:
    """A length of time as the board says it: 7 min, 1 h 05 min."""
    if span is None:
        return ""
    minutes = max(int(span.total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("%(hours)d h %(minutes)02d min", hours=hours, minutes=minutes)
    return _("%(minutes)d min", minutes=minutes)


@dataclass
class BoardVisit:
    """One visit on the board, from plain columns. Times are local (the business's zone)."""

    id: int
    client_id: int
    sitter_id: int | None
    status: VisitStatus
    state: str
    when: str
    client_name: str
    service: str
    duration_minutes: int
    pets: str
    starts_at: datetime
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    # How long she has been there (in progress), or how long she stayed (done, short).
    spent: timedelta | None
    # How long past its start a visit nobody checked in to is (late).
    overdue: timedelta | None
    # "Mia holds no key for Jane Smith" (services.keys.key_notices), or "".
    key_notice: str = ""

    @property
    def state_label(self) -> str:
        return str(BOARD_STATES[self.state])

    @property
    def alert(self) -> bool:
        return self.state in ALERTS

    @property
    def spent_text(self) -> str:
        return span_text(self.spent)

    @property
    def overdue_text(self) -> str:
        return span_text(self.overdue)


@dataclass
class Lane:
    """One sitter's visits of the day (or the visits nobody is assigned to), in time order."""

    sitter_id: int | None
    name: str
    visits: list[BoardVisit] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return sum(v.alert for v in self.visits)


@dataclass
class Board:
    day: date
    today: date
    now: datetime  # local
    lanes: list[Lane]
    counts: dict[str, int]
    grace_minutes: int

    @property
    def total(self) -> int:
        return sum(len(lane.visits) for lane in self.lanes)

    @property
    def is_today(self) -> bool:
        return self.day == self.today

    @property
    def prev_day(self) -> date:
        return self.day - timedelta(days=1)

    @property
    def next_day(self) -> date:
        return self.day + timedelta(days=1)


# The board's query, built once: it is polled every few seconds by every open board. A row per visit and pet (one
# round trip: on PostgreSQL a second query for the pets cost as much as the first, as on the calendars).
_DAY_BOARD = (
    select(Visit.id, Visit.client_id, Visit.sitter_id, Visit.status, Visit.window, Visit.starts_at, Visit.ends_at,
           Visit.checked_in_at, Visit.checked_out_at, Service.name, Service.duration_minutes,
           ClientProfile.first_name, ClientProfile.last_name,
           StaffUser.first_name.label("sitter_first"), StaffUser.last_name.label("sitter_last"),
           Pet.name.label("pet_name"))
    .join(Service, Service.id == Visit.service_id)
    .join(ClientProfile, ClientProfile.id == Visit.client_id)
    .outerjoin(StaffUser, StaffUser.id == Visit.sitter_id)
    .outerjoin(visit_pet, visit_pet.c.visit_id == Visit.id)
    .outerjoin(Pet, Pet.id == visit_pet.c.pet_id)
    .where(Visit.day == bindparam("day"), Visit.status.in_(SHOWN_STATUSES))
    .order_by(Visit.starts_at, Visit.id, Pet.name)
)


def day_board(day: date, today: date, now: datetime | None = None) -> Board:
    """The board of local day `day` as it stands at `now`: lanes by sitter (by name), then the visits
    nobody is assigned to, each in time order, with key notices, and the count of each state. A fixed
    number of queries."""
    now = now or utcnow()
    settings = get_settings()
    grace, percent = settings.late_grace_minutes, settings.short_visit_percent
    rows: list = []
    pets: dict[int, list[str]] = {}
    for row in db.session.execute(_DAY_BOARD, {"day": day}):
        if not rows or rows[-1].id != row.id:
            rows.append(row)
        if row.pet_name is not None:
            pets.setdefault(row.id, []).append(row.pet_name)
    zone = local_zone()

    def local(moment: datetime | None) -> datetime | None:
        return as_utc(moment).astimezone(zone) if moment is not None else None

    lanes: dict[int | None, Lane] = {}
    counts = dict.fromkeys((*COUNTED, "cancelled", "unrecorded"), 0)
    for row in rows:
        state = board_state(row.status, row.starts_at, row.ends_at, row.checked_in_at, row.checked_out_at,
                            row.duration_minutes, now, grace, percent)
        spent = None
        if row.checked_in_at is not None:
            spent = as_utc(row.checked_out_at or now) - as_utc(row.checked_in_at)
            if state not in ("in_progress", "done", "short"):
                spent = None
        visit = BoardVisit(
            id=row.id, client_id=row.client_id, sitter_id=row.sitter_id, status=row.status, state=state,
            when=window_label(row.window, row.starts_at, row.ends_at), client_name=f"{row.first_name} {row.last_name}",
            service=row.name, duration_minutes=row.duration_minutes, pets=", ".join(pets.get(row.id, ())),
            starts_at=local(row.starts_at), checked_in_at=local(row.checked_in_at),
            checked_out_at=local(row.checked_out_at), spent=spent,
            overdue=now - as_utc(row.starts_at) if state == "late" else None)
        counts[state] += 1
        if row.sitter_id not in lanes:
            name = f"{row.sitter_first} {row.sitter_last}".strip() if row.sitter_id else _("Not assigned")
            lanes[row.sitter_id] = Lane(row.sitter_id, name)
        lanes[row.sitter_id].visits.append(visit)
    counts["done"] += counts.pop("unrecorded")
    notices = key_notices([v for lane in lanes.values() for v in lane.visits if v.state in NEEDS_KEY],
                          {row.sitter_id: row.sitter_first for row in rows if row.sitter_id})
    for lane in lanes.values():
        for visit in lane.visits:
            visit.key_notice = notices.get(visit.id, "")
    ordered = sorted((lane for key, lane in lanes.items() if key is not None), key=lambda lane: lane.name.lower())
    if None in lanes:
        ordered.append(lanes[None])
    return Board(day=day, today=today, now=now.astimezone(zone), lanes=ordered, counts=counts, grace_minutes=grace)
