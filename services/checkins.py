"""The visit as it happens: check-in and check-out from the sitter's phone, undo, missed visits, and a
manager's corrections. Every change is one conditional UPDATE (a double tap or a retry records once)
and leaves a VisitEvent beside it, so what was recorded, when and by whom is never lost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

from flask import current_app
from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from filters import business_today, clock, formatted, local_datetime, local_zone
from filters import gettext as _
from models import (
    BlockOut,
    ChecklistItem,
    ClientProfile,
    Pet,
    ReportPhoto,
    Service,
    StaffUser,
    Visit,
    VisitEvent,
    VisitReport,
    VisitStatus,
    as_utc,
    utcnow,
    visit_pet,
)
from services import fees
from services.loading import IDS, fill
from services.errors import DomainError, FieldErrors
from services.settings import get_settings
from services.visits import CalendarVisit, blockouts_between, calendar_visits

# A sitter may check in this long before the window starts (she arrived early), and until the visit's day is
# over or this long after its window (a late-evening visit); not on another day.
EARLY = timedelta(hours=2)

# A manager's correction puts the check-in within this of the visit's window: a typo of a year is refused.
CORRECTION_SPAN = timedelta(days=1)


class NotNow(DomainError):
    """The visit is not in a state that allows this (cancelled, already done): answered with 409."""


@dataclass(frozen=True)
class Position:
    """Where the phone was at a tap, as the browser's geolocation gave it (metres for accuracy)."""

    latitude: float
    longitude: float
    accuracy: float | None = None


def read_position(latitude: str | None, longitude: str | None, accuracy: str | None) -> Position | None:
    """A position from a form's hidden fields, or None when absent or not a place on Earth."""
    try:
        lat, lng = float(latitude or ""), float(longitude or "")
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    try:
        acc = float(accuracy) if accuracy else None
    except ValueError:
        acc = None
    if acc is not None and not (math.isfinite(acc) and 0 <= acc < 1_000_000):
        acc = None
    return Position(lat, lng, acc)


def undo_minutes() -> int:
    return current_app.config["CHECKIN_UNDO_MINUTES"]


def _assigned(visit: Visit, sitter: StaffUser) -> None:
    if visit.sitter_id != sitter.id:
        raise NotNow(_("This visit is assigned to someone else."))


def _position(position: Position | None, action: str) -> Position | None:
    """The position to store, by the site option: dropped when off, demanded when required."""
    mode = get_settings().location
    if mode == "off":
        return None
    if position is None and mode == "required":
        raise DomainError(_("Allow this page to use your location to %(action)s: the business records where "
                            "visits happen.", action=action), "location")
    return position


def _event(visit: Visit, kind: str, staff: StaffUser | None, at: datetime, position: Position | None = None,
           details: dict | None = None, reason: str = "") -> VisitEvent:
    event = VisitEvent(visit_id=visit.id, kind=kind, at=at, staff_id=staff.id if staff else None,
                       latitude=position.latitude if position else None,
                       longitude=position.longitude if position else None,
                       accuracy=position.accuracy if position else None, details=details or {}, reason=reason)
    db.session.add(event)
    return event


def _claim(visit: Visit, from_status: VisitStatus, *still, **values) -> bool:
    """Move the visit on only if it is still in `from_status` (and the conditions `still` hold): of two taps,
    exactly one wins."""
    won = db.session.execute(
        update(Visit).where(Visit.id == visit.id, Visit.status == from_status, *still).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(visit)
    return won == 1


def check_in(visit: Visit, sitter: StaffUser, position: Position | None, now: datetime | None = None) -> Visit:
    """The sitter arrived: scheduled -> in progress, at the server's time. A repeat changes nothing."""
    _assigned(visit, sitter)
    if visit.status in (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED) and visit.checked_in_at is not None:
        return visit
    if visit.status != VisitStatus.SCHEDULED:
        raise NotNow(_("This visit is %(state)s: there is nothing to check in to.", state=visit.state_label.lower()))
    now = now or utcnow()
    window = check_in_window(visit, now)
    if window == "early":
        raise NotNow(_("This visit starts %(day)s at %(time)s: check in when you arrive.",
                       day=_day_words(visit.day), time=clock(as_utc(visit.starts_at).astimezone(local_zone()))))
    if window == "over":
        raise NotNow(_("This visit was %(day)s: it can no longer be checked in to. A manager can correct its times or "
                       "mark it missed.", day=_day_words(visit.day)))
    position = _position(position, _("check in"))
    # Still hers and at the time checked above: a manager may have reassigned or moved it since her phone loaded it.
    if not _claim(visit, VisitStatus.SCHEDULED, Visit.sitter_id == sitter.id, Visit.starts_at == visit.starts_at,
                  status=VisitStatus.IN_PROGRESS, checked_in_at=now, check_in_latitude=position and position.latitude,
                  check_in_longitude=position and position.longitude, check_in_accuracy=position and position.accuracy):
        _assigned(visit, sitter)
        if visit.status in (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED):
            return visit  # the other tap won: recorded once
        if visit.status == VisitStatus.SCHEDULED:
            raise NotNow(_("This visit was moved a moment ago: it is now %(day)s, %(when)s.", day=_day_words(visit.day),
                           when=visit.when))
        raise NotNow(_("This visit changed a moment ago: it is %(state)s.", state=visit.state_label.lower()))
    _event(visit, "check_in", sitter, now, position)
    return visit


def check_in_window(visit: Visit, now: datetime | None = None) -> str:
    """Whether a check-in tap would be taken now: "early" (more than EARLY before the window), "open", or "over"."""
    now = now or utcnow()
    if now < as_utc(visit.starts_at) - EARLY:
        return "early"
    return "over" if now > _last_check_in(visit) else "open"


def code_day(visit: Visit, now: datetime | None = None) -> bool:
    """Whether the visit's lockbox code may be shown now (to its sitter; keys.reveal_code): on the visit's day, and
    past midnight while a late visit booked or under way is still within its check-in window (EARLY after it ends),
    as her day shows it. Not all the next day for a visit left under way: the office settles that one."""
    now = now or utcnow()
    today = now.astimezone(local_zone()).date()
    if visit.day == today:
        return True
    return (visit.day == today - timedelta(days=1)
            and visit.status in (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS)
            and check_in_window(visit, now) == "open")


def opens_at(visit: Visit) -> datetime:
    """The first moment a check-in is taken."""
    return as_utc(visit.starts_at) - EARLY


def _last_check_in(visit: Visit) -> datetime:
    """The latest a tap can check in to the visit: the end of its day, or EARLY after its window (late evening)."""
    day_over = datetime.combine(visit.day + timedelta(days=1), time(0), tzinfo=local_zone()).astimezone(timezone.utc)
    return max(day_over, as_utc(visit.ends_at) + EARLY)


def check_out(visit: Visit, sitter: StaffUser, position: Position | None, now: datetime | None = None) -> Visit:
    """The sitter is leaving: in progress -> completed. A repeat changes nothing."""
    _assigned(visit, sitter)
    if visit.status == VisitStatus.COMPLETED:
        return visit
    if visit.status != VisitStatus.IN_PROGRESS:
        raise NotNow(_("Check in first: this visit is %(state)s.", state=visit.state_label.lower()))
    if get_settings().report_before_checkout and not visit.reports:
        raise NotNow(_("Send the visit report first: sending it checks you out."))
    return _complete(visit, sitter, _position(position, _("check out")), now or utcnow())


def _complete(visit: Visit, sitter: StaffUser, position: Position | None, now: datetime) -> Visit:
    if not _claim(visit, VisitStatus.IN_PROGRESS, status=VisitStatus.COMPLETED, checked_out_at=now,
                  check_out_latitude=position and position.latitude,
                  check_out_longitude=position and position.longitude,
                  check_out_accuracy=position and position.accuracy):
        if visit.status == VisitStatus.COMPLETED:
            return visit
        raise NotNow(_("This visit changed a moment ago: it is %(state)s.", state=visit.state_label.lower()))
    _event(visit, "check_out", sitter, now, position)
    return visit


def complete_with_report(visit: Visit, sitter: StaffUser, now: datetime) -> None:
    """Sending the report checks the sitter out, if she was still checked in."""
    if visit.status == VisitStatus.IN_PROGRESS:
        _complete(visit, sitter, None, now)


def last_tap(visit: Visit) -> VisitEvent | None:
    """The check-in or check-out that undo would take back: the latest of the visit's taps still standing."""
    taps = [e for e in visit.events if e.kind in ("check_in", "check_out", "undo_check_in", "undo_check_out",
                                                  "corrected")]
    if not taps or taps[-1].kind not in ("check_in", "check_out"):
        return None
    return taps[-1]


def can_undo(visit: Visit, sitter: StaffUser, now: datetime | None = None) -> bool:
    tap = last_tap(visit)
    return (tap is not None and tap.staff_id == sitter.id and not visit.reports
            and (now or utcnow()) - as_utc(tap.at) <= timedelta(minutes=undo_minutes())
            and visit.status == (VisitStatus.IN_PROGRESS if tap.kind == "check_in" else VisitStatus.COMPLETED))


def undo(visit: Visit, sitter: StaffUser, now: datetime | None = None) -> Visit:
    """Take back the sitter's last tap within a few minutes (a check-in on the wrong visit, a check-out too soon).

    The tap's event stays, and the undo is recorded beside it."""
    _assigned(visit, sitter)
    now = now or utcnow()
    if not can_undo(visit, sitter, now):
        if visit.reports:
            raise NotNow(_("The report is sent: ask a manager to correct the times."))
        raise NotNow(_("Too late to undo (after %(num)d minutes): ask a manager to correct the time.",
                       num=undo_minutes()))
    tap = last_tap(visit)
    if tap.kind == "check_in":
        won = _claim(visit, VisitStatus.IN_PROGRESS, status=VisitStatus.SCHEDULED, checked_in_at=None,
                     check_in_latitude=None, check_in_longitude=None, check_in_accuracy=None)
        old = tap.at
    else:
        won = _claim(visit, VisitStatus.COMPLETED, status=VisitStatus.IN_PROGRESS, checked_out_at=None,
                     check_out_latitude=None, check_out_longitude=None, check_out_accuracy=None)
        old = tap.at
    if not won:
        raise NotNow(_("This visit changed a moment ago: it is %(state)s.", state=visit.state_label.lower()))
    _event(visit, f"undo_{tap.kind}", sitter, now, details={tap.kind: [as_utc(old).isoformat(), None]})
    db.session.expire(visit, ["events"])
    return visit


def mark_missed(visit: Visit, manager: StaffUser, reason: str, now: datetime | None = None,
                no_show: bool = False) -> Visit:
    """A scheduled visit that did not happen: kept as missed, with why. Missed, it costs the client nothing;
    a no-show (the client was not there, or turned the sitter away) costs the no-show fee, billed on the
    client's next invoice."""
    reason = reason.strip()
    if not reason:
        raise FieldErrors({"reason": _("Say what happened.")})
    now = now or utcnow()
    if as_utc(visit.starts_at) > now:
        raise NotNow(_("This visit has not started yet: cancel it instead."))
    fee = fees.no_show_fee(visit).cents if no_show else 0
    if not _claim(visit, VisitStatus.SCHEDULED, status=VisitStatus.MISSED, late_fee_cents=fee):
        raise NotNow(_("Only a scheduled visit nobody checked in to can be marked missed; this one is %(state)s.",
                       state=visit.state_label.lower()))
    _event(visit, "missed", manager, now, reason=reason, details={"no_show_fee_cents": fee} if no_show else None)
    return visit


CORRECTABLE = (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED, VisitStatus.MISSED,
               VisitStatus.UNRECORDED)


def correct_times(visit: Visit, manager: StaffUser, checked_in_at: datetime | None, checked_out_at: datetime | None,
                  reason: str, now: datetime | None = None) -> Visit:
    """A manager sets the check-in and check-out times; the event keeps the times they replace, and why.

    Both times make the visit completed; a check-in alone makes it in progress."""
    now = now or utcnow()
    reason = reason.strip()
    errors = {}
    if not reason:
        errors["reason"] = _("Say why the times change (kept beside the original).")
    earliest, latest = as_utc(visit.starts_at) - CORRECTION_SPAN, as_utc(visit.ends_at) + CORRECTION_SPAN
    if checked_in_at is None:
        errors["checked_in_at"] = _("Enter the check-in time.")
    elif checked_in_at > now:
        errors["checked_in_at"] = _("The check-in cannot be in the future.")
    elif not earliest <= checked_in_at <= latest:
        errors["checked_in_at"] = _("Enter a check-in between %(first)s and %(last)s, within a day of the visit.",
                                    first=local_datetime(earliest), last=local_datetime(latest))
    if checked_out_at is not None:
        if checked_out_at > now:
            errors["checked_out_at"] = _("The check-out cannot be in the future.")
        elif checked_in_at is not None and checked_out_at <= checked_in_at:
            errors["checked_out_at"] = _("The check-out must be after the check-in.")
        elif checked_out_at > latest:
            errors["checked_out_at"] = _("Enter a check-out by %(last)s, within a day of the visit.",
                                         last=local_datetime(latest))
    if visit.status not in CORRECTABLE:
        raise NotNow(_("This visit is %(state)s: it has no times to correct.", state=visit.state_label.lower()))
    if errors:
        raise FieldErrors(errors)
    old_in, old_out = visit.checked_in_at, visit.checked_out_at
    status = VisitStatus.COMPLETED if checked_out_at is not None else VisitStatus.IN_PROGRESS
    if not _claim(visit, visit.status, status=status, checked_in_at=checked_in_at, checked_out_at=checked_out_at):
        raise NotNow(_("This visit changed a moment ago: look again and correct it then."))
    details = {"checked_in_at": [_iso(old_in), _iso(checked_in_at)],
               "checked_out_at": [_iso(old_out), _iso(checked_out_at)]}
    _event(visit, "corrected", manager, now, details=details, reason=reason)
    db.session.expire(visit, ["events"])
    return visit


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def _day_words(day: date) -> str:
    return formatted(day, "day")


# A visit starting this soon gets its whole card on the sitter's day even when it is tomorrow's (an early walk,
# seen the evening before); tomorrow's others are a line each, which opens the card.
FULL_CARD_HOURS = 12


@dataclass
class Day:
    """One day of a sitter's visits (`visits` as cards, `later` as lines), and whether the business is closed; the
    day's finished visits are lines too (`done`), with the ids of those whose report is still to send."""

    day: date
    visits: list[Visit]
    closed: BlockOut | None
    later: list[CalendarVisit] = field(default_factory=list)
    done: list[CalendarVisit] = field(default_factory=list)
    reports_due: set[int] = field(default_factory=set)


# What a sitter still has to do at a visit; today's others are lines, with their card a tap away.
TO_DO = (VisitStatus.REQUESTED, VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS)


@lru_cache(maxsize=4)
def _cards_statement(until: bool, to_do_only: bool = False):
    """The visits a sitter's cards show, with their client and service (load_cards reads the rest): built once, so
    SQLAlchemy keeps its cache key (computing it again, with its loader options, was a sixth of the page's loading).

    `to_do_only` leaves out the first day's visits finished (done, missed or cancelled), except for a few minutes
    after her own check-in or check-out, while she may still undo it (can_undo says exactly; this only keeps the
    card). It also keeps the day before's visits still open: under way (to check out), just tapped (to undo),
    booked and still in their check-in window (up to EARLY after they end, _last_check_in), or checked out since
    midnight with no report yet, so that past midnight a late evening's visit is still on her day. A later day's
    visit starting before `until` stays a card whatever its state (one checked out before midnight may still need
    its report)."""
    first_day = Visit.day == bindparam("first")
    since = bindparam("first")
    if to_do_only:
        just_tapped = exists().where(VisitEvent.visit_id == Visit.id, VisitEvent.staff_id == bindparam("sitter"),
                                     VisitEvent.kind.in_(("check_in", "check_out")),
                                     VisitEvent.at >= bindparam("tapped_since", type_=VisitEvent.at.type))
        still_open = or_(Visit.status == VisitStatus.IN_PROGRESS, just_tapped,
                         and_(Visit.status == VisitStatus.SCHEDULED,
                              Visit.ends_at >= bindparam("check_in_since", type_=Visit.ends_at.type)),
                         and_(Visit.status == VisitStatus.COMPLETED,
                              Visit.checked_out_at >= bindparam("midnight", type_=Visit.checked_out_at.type),
                              ~exists().where(VisitReport.visit_id == Visit.id)))
        first_day = or_(and_(first_day, or_(Visit.status.in_(TO_DO), just_tapped)),
                        and_(Visit.day == bindparam("before"), still_open))
        since = bindparam("before")
    as_cards = first_day if until else or_(first_day, Visit.day > bindparam("first"))
    if until:
        as_cards = or_(as_cards, and_(Visit.day > bindparam("first"),
                                      Visit.starts_at < bindparam("until", type_=Visit.starts_at.type)))
    return (
        select(Visit)
        .where(Visit.sitter_id == bindparam("sitter"), Visit.day >= since, Visit.day <= bindparam("last"),
               Visit.status != VisitStatus.DECLINED, as_cards)
        .order_by(Visit.starts_at, Visit.id)
        .options(joinedload(Visit.service), joinedload(Visit.client).joinedload(ClientProfile.vet))
    )


# A card's collections, for all of a day's cards at once (services.loading), each in its relationship's order.
_CARD_COLLECTIONS = (
    ("pets", select(visit_pet.c.visit_id, Pet).join(visit_pet, visit_pet.c.pet_id == Pet.id)
     .where(visit_pet.c.visit_id.in_(IDS)).order_by(Pet.name).options(joinedload(Pet.photo))),
    ("events", select(VisitEvent.visit_id, VisitEvent).where(VisitEvent.visit_id.in_(IDS))
     .order_by(VisitEvent.at, VisitEvent.id)),
    ("reports", select(VisitReport.visit_id, VisitReport).where(VisitReport.visit_id.in_(IDS))
     .order_by(VisitReport.version)),
    ("photos", select(ReportPhoto.visit_id, ReportPhoto).where(ReportPhoto.visit_id.in_(IDS))
     .order_by(ReportPhoto.id)),
)
_REPORTED = select(VisitReport.visit_id).where(VisitReport.visit_id.in_(IDS)).distinct()
_CHECKLISTS = (select(ChecklistItem.service_id, ChecklistItem)
               .where(ChecklistItem.service_id.in_(IDS), ChecklistItem.active.is_(True))
               .order_by(ChecklistItem.position, ChecklistItem.id))


def load_cards(visits: list[Visit]) -> None:
    """What the cards of `visits` read besides their client and service: pets, taps, reports, photos, checklists."""
    for key, statement in _CARD_COLLECTIONS:
        fill(visits, key, statement)
    fill({v.service.id: v.service for v in visits}.values(), "checklist", _CHECKLISTS)


def sitter_days(sitter: StaffUser, first: date, count: int = 2, cards_until: datetime | None = None,
                now: datetime | None = None) -> list[Day]:
    """The sitter's visits on `count` days from `first`, with all her phone shows, in a fixed number of queries.

    With `cards_until`, the days after the first show as cards only the visits starting before then; the rest are
    read as calendar lines (visits.calendar_visits), with none of a card's eager loading. With `now` too, the
    finished visits are lines as well (see _cards_statement): the first day's under `done`, the others' under
    `later`; and the first day's cards begin with the day before's visits still open."""
    last = first + timedelta(days=count - 1)
    to_do_only = cards_until is not None and now is not None
    midnight = datetime.combine(first, time(0), tzinfo=local_zone()).astimezone(timezone.utc)
    shown = list(db.session.scalars(_cards_statement(cards_until is not None, to_do_only),
                                    {"sitter": sitter.id, "first": first, "last": last, "until": cards_until,
                                     "before": first - timedelta(days=1),
                                     "check_in_since": now - EARLY if now else None,
                                     "midnight": midnight,
                                     "tapped_since": now - timedelta(minutes=undo_minutes()) if now else None}))
    load_cards(shown)
    blockouts = blockouts_between(first, last)
    lines: list[CalendarVisit] = []
    if cards_until is not None and (count > 1 or to_do_only):
        carded = {v.id for v in shown}
        lines = [v for v in calendar_visits(first if to_do_only else first + timedelta(days=1), last, sitter_id=sitter.id)
                 if v.id not in carded and v.state != VisitStatus.DECLINED.value]
    done = [v for v in lines if v.day == first]
    completed = [v.id for v in done if v.state == VisitStatus.COMPLETED.value]
    reported = set(db.session.scalars(_REPORTED, {"ids": completed}))
    days = []
    for offset in range(count):
        day = first + timedelta(days=offset)
        # The first day's cards begin with the day before's still open (in time order: the query's).
        days.append(Day(day, [v for v in shown if v.day == day or (offset == 0 and v.day < first)],
                        next((b for b in blockouts if b.covers(day)), None),
                        [v for v in lines if v.day == day and day != first]))
    days[0].done, days[0].reports_due = done, set(completed) - reported
    return days


def today_for(sitter: StaffUser) -> list[Day]:
    """Today's visits still to do as cards and those finished as lines; tomorrow's as cards when they start within
    FULL_CARD_HOURS, else as lines."""
    now = utcnow()
    return sitter_days(sitter, business_today(), cards_until=now + timedelta(hours=FULL_CARD_HOURS), now=now)


def load_visit_for_work(visit_id: int, viewer: StaffUser) -> Visit | None:
    """A visit with what its card shows: the assigned sitter's, or any for a manager."""
    query = select(Visit).where(Visit.id == visit_id).options(
        joinedload(Visit.service).selectinload(Service.checklist),
        joinedload(Visit.client).joinedload(ClientProfile.vet),
        selectinload(Visit.pets).joinedload(Pet.photo),
        selectinload(Visit.events).joinedload(VisitEvent.staff),
        selectinload(Visit.reports).joinedload(VisitReport.created_by),
        selectinload(Visit.photos),
    )
    if not viewer.can_manage:
        query = query.where(Visit.sitter_id == viewer.id)
    return db.session.scalar(query)
