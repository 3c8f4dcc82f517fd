"""The visit as it happens: the sitter's day, check-in and check-out, undo, corrections, report cards with
photos (EXIF removed), the report email and the client's view of it. Email goes to a real SMTP server."""
import hashlib
import io
import os
import re
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import func, select

from extensions import db
from filters import formatted
from models import (ChecklistItem, ClientLogin, ReportPhoto, Role, Visit, VisitEvent, VisitReport, VisitStatus, as_utc,
                    utcnow)
from services import checkins, messages, outbox
from services.settings import get_settings
from tests.conftest import HX, login_as, smtp_config

NY = ZoneInfo("America/New_York")


@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


@pytest.fixture
def walk(make):
    service = make.service(name="Dog walk", duration_minutes=30)
    db.session.add_all([ChecklistItem(service_id=service.id, label="Fresh water", required=True, position=0),
                        ChecklistItem(service_id=service.id, label="Poo", required=False, position=1)])
    db.session.commit()
    return service


@pytest.fixture
def rex(me, make):
    return make.pet(me.client, name="Rex", feeding="Half a cup at 5 PM", medications="Apoquel daily")


@pytest.fixture
def fill_in(make):
    """A sitter who is neither the client's primary nor secondary sitter."""
    return make.staff(Role.SITTER, first_name="Fern")


@pytest.fixture
def as_fill_in(app, fill_in):
    browser = app.test_client()
    login_as(browser, fill_in)
    return browser


def book(client_profile, service, sitter, pets, starts_in=timedelta(minutes=10), minutes=30, price=2500) -> Visit:
    start = utcnow().replace(microsecond=0) + starts_in
    visit = Visit(client=client_profile, service=service, sitter=sitter, day=start.astimezone(NY).date(),
                  starts_at=start, ends_at=start + timedelta(minutes=minutes), window="custom", price_cents=price,
                  status=VisitStatus.SCHEDULED, pets=list(pets), notes="Gate code in the key notes",
                  late_cancellation=False, cancelled_by="", reason="")
    db.session.add(visit)
    db.session.commit()
    return visit


@pytest.fixture
def visit(me, rex, walk, fill_in):
    me.client.address_line1, me.client.city = "12 Elm St", "Springfield"
    me.client.uses_keys, me.client.key_notes = True, "Key under the blue pot"
    me.client.emergency_name, me.client.emergency_phone = "Ana Reyes", "(555) 010-2222"
    me.client.mobile_phone = "(555) 010-1111"
    me.client.staff_notes = "STAFF ONLY: slow payer"
    return book(me.client, walk, fill_in, [rex])


def events(visit: Visit, kind: str | None = None) -> list[VisitEvent]:
    query = select(VisitEvent).where(VisitEvent.visit_id == visit.id).order_by(VisitEvent.id)
    if kind:
        query = query.where(VisitEvent.kind == kind)
    return list(db.session.scalars(query))


def fresh(visit: Visit) -> Visit:
    db.session.expire_all()
    return db.session.get(Visit, visit.id)


def post(browser, url, data=None, htmx=True, **kw):
    return browser.post(url, data=data or {}, headers=HX if htmx else {}, **kw)


def jpeg_with_gps(size=(1200, 900)) -> bytes:
    """A camera photo whose EXIF carries GPS coordinates (the client's home) and a camera model."""
    image = Image.new("RGB", size, (90, 140, 200))
    exif = Image.Exif()
    exif[0x0110] = "PhoneCam 12"  # Model
    gps = {1: "N", 2: (42.0, 21.0, 36.0), 3: "W", 4: (71.0, 3.0, 0.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825), "the test photo carries GPS"
    return data


def test_a_sitter_lands_on_her_day_and_a_fill_in_sees_all_she_needs_without_prices(app, as_fill_in, visit, make):
    other_client = make.client(first_name="Zed", last_name="Other")
    assert as_fill_in.get("/").headers["Location"].endswith("/today/")
    page = as_fill_in.get("/today/")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    body = page.get_data(as_text=True)
    for needed in ("12 Elm St", "Key under the blue pot", "Ana Reyes", "tel:5550101111", "Rex", "Half a cup at 5 PM",
                   "Apoquel daily", "Check in", "Gate code in the key notes", "maps"):
        assert needed in body, needed
    assert "$" not in body and "25.00" not in body and "STAFF ONLY" not in body
    fragment = as_fill_in.get("/today/", headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and "Check in" in fragment
    # Every link on her pages answers: the client she fills in for, the pet, the visit card, her week.
    week = as_fill_in.get(f"/schedule/?view=week&date={visit.day.isoformat()}").get_data(as_text=True)
    panel = as_fill_in.get(f"/schedule/visits/{visit.id}").get_data(as_text=True)
    links = set(re.findall(r'href="(/(?:clients|pets|visits|schedule|today)[^"]*)"', body + week + panel))
    assert f"/schedule/visits/{visit.id}" in links and f"/clients/{visit.client_id}" in links
    for href in links:
        assert as_fill_in.get(href.replace("&amp;", "&")).status_code == 200, href
    client_page = as_fill_in.get(f"/clients/{visit.client_id}").get_data(as_text=True)
    assert "STAFF ONLY" not in client_page and "$" not in client_page
    assert as_fill_in.get(f"/clients/{other_client.id}").status_code == 404
    assert "No clients match" not in as_fill_in.get("/clients/").get_data(as_text=True)


def test_tomorrows_visits_beyond_twelve_hours_are_lines_that_open_their_card(app, as_fill_in, me, rex, walk, fill_in):
    me.client.address_line1 = "12 Elm St"
    today = datetime.now(NY).date()
    late = datetime.combine(today + timedelta(days=1), time(23, 0), NY)  # 23 to 47 hours ahead, whatever the hour now
    visit = book(me.client, walk, fill_in, [rex], starts_in=late - utcnow().replace(microsecond=0))
    called_off = book(me.client, walk, fill_in, [rex], starts_in=late - utcnow().replace(microsecond=0))
    called_off.status, called_off.reason = VisitStatus.CANCELLED, "Away after all"
    turned_down = book(me.client, walk, fill_in, [rex], starts_in=late - utcnow().replace(microsecond=0))
    turned_down.status = VisitStatus.DECLINED
    db.session.commit()
    page = as_fill_in.get("/today/").get_data(as_text=True)
    line = re.search(rf'<li class="state-scheduled"><a href="/visits/{visit.id}">(.*?)</li>', page, re.S)
    assert line and "Nia" in line[1] and "Dog walk · Rex" in line[1] and "11 PM" in line[1], page
    assert re.search(rf'<li class="state-cancelled"><a href="/visits/{called_off.id}">.*?Cancelled</span>', page, re.S)
    assert f"/visits/{turned_down.id}" not in page  # a declined request was never a visit
    assert "12 Elm St" not in page and "Half a cup at 5 PM" not in page and "Check in" not in page  # no card
    card = as_fill_in.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "12 Elm St" in card and "Half a cup at 5 PM" in card
    # From FULL_CARD_HOURS before it starts, the same visit is a card on her day.
    with app.test_request_context():
        before = checkins.sitter_days(fill_in, today, cards_until=as_utc(visit.starts_at))
        after = checkins.sitter_days(fill_in, today, cards_until=as_utc(visit.starts_at) + timedelta(seconds=1))
    assert before[1].visits == [] and [v.id for v in before[1].later] == [visit.id, called_off.id]
    assert [v.id for v in after[1].visits] == [visit.id, called_off.id] and after[1].later == []
    assert checkins.FULL_CARD_HOURS == 12 and "from 12 hours before it starts" in page


def test_todays_finished_visits_are_lines_after_the_cards_and_one_whose_report_is_due_says_so(app, as_fill_in, me, rex,
                                                                                             walk, fill_in):
    today = datetime.now(NY).date()

    def booked(starts_in: timedelta, status: VisitStatus) -> Visit:
        visit = book(me.client, walk, fill_in, [rex], starts_in=starts_in)
        visit.day, visit.status = today, status  # today's, whatever the hour now
        if status in (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED):
            visit.checked_in_at = as_utc(visit.starts_at)
            db.session.add(VisitEvent(visit_id=visit.id, kind="check_in", at=visit.checked_in_at, staff_id=fill_in.id))
        return visit

    unreported = booked(-timedelta(hours=3), VisitStatus.COMPLETED)
    reported = booked(-timedelta(hours=4), VisitStatus.COMPLETED)
    db.session.add(VisitReport(visit_id=reported.id, client_id=reported.client_id, version=1, checklist=[], notes="",
                               mood="", created_by_id=fill_in.id))
    just_done = booked(-timedelta(hours=1), VisitStatus.COMPLETED)  # checked out a minute ago: she may undo it
    db.session.add(VisitEvent(visit_id=just_done.id, kind="check_out", at=utcnow() - timedelta(minutes=1),
                              staff_id=fill_in.id))
    under_way = booked(-timedelta(minutes=10), VisitStatus.IN_PROGRESS)
    to_come = booked(timedelta(hours=2), VisitStatus.SCHEDULED)
    called_off = booked(timedelta(hours=1), VisitStatus.CANCELLED)
    soon = booked(timedelta(hours=2), VisitStatus.SCHEDULED)  # tomorrow's, done before midnight (times recorded)
    soon.day, soon.status = today + timedelta(days=1), VisitStatus.COMPLETED
    db.session.commit()
    with app.test_request_context():
        messages.write_about_visit(unreported, me, "Did you lock the back door?")
    db.session.commit()
    page = as_fill_in.get("/today/").get_data(as_text=True)
    cards = {v.id for v in (unreported, reported, just_done, under_way, to_come, called_off)
             if f'<article id="visit-{v.id}"' in page}
    assert cards == {just_done.id, under_way.id, to_come.id}, page
    assert "Undo check-out" in page and "Check in" in page
    finished = page[page.index('<h3 class="lines-h"'):]
    assert "Finished <span class=\"muted-text\">(3)</span>" in finished
    assert all(f'<article id="visit-{v.id}"' not in finished for v in (just_done, under_way, to_come))  # cards first

    def line(visit: Visit) -> str:
        found = re.search(rf'<li class="state-[a-z_]+"><a href="/visits/{visit.id}">.*?</li>', finished, re.S)
        assert found, visit.id
        return found[0]

    assert "Completed" in line(unreported) and "Report not sent" in line(unreported) and "1 message" in line(unreported)
    assert "message" not in line(reported)
    assert "Completed" in line(reported) and "Report not sent" not in line(reported)
    assert "Cancelled" in line(called_off) and "Report not sent" not in line(called_off)
    # The line opens the card, where the report is written.
    assert "Send the report" in as_fill_in.get(f"/visits/{unreported.id}").get_data(as_text=True)
    # Past the undo's minutes the visit just done is a line too; a sitter's day without `now` keeps every card.
    with app.test_request_context():
        later = utcnow() + timedelta(minutes=checkins.undo_minutes() + 1)
        days = checkins.sitter_days(fill_in, today, cards_until=later + timedelta(hours=3), now=later)
        assert {v.id for v in days[0].visits} == {under_way.id, to_come.id}
        assert [v.id for v in days[1].visits] == [soon.id]  # tomorrow's, within the hours of cards: a card, done or not
        assert {v.id for v in days[0].done} == {unreported.id, reported.id, just_done.id, called_off.id}
        assert days[0].reports_due == {unreported.id, just_done.id}
        assert len(checkins.sitter_days(fill_in, today, cards_until=later)[0].visits) == 6
    assert f'<article id="visit-{soon.id}"' in page


def test_after_midnight_yesterdays_visits_still_open_lead_her_day_marked_with_their_date(app, as_fill_in, make, me, rex,
                                                                                          walk, fill_in):
    """A late evening's visit is dated the day before: past midnight it is still to check out, to check in to while
    its window lasts (checkins.EARLY after it ends), or to report on when checked out since midnight, so her day
    begins with it, marked with its date."""
    today = datetime.now(NY).date()
    yesterday = today - timedelta(days=1)

    midnight = datetime.combine(today, time(0), tzinfo=NY)

    def booked(starts_in: timedelta, status: VisitStatus, day=yesterday, sitter=fill_in,
               checked_out_at=None) -> Visit:
        visit = book(me.client, walk, sitter, [rex], starts_in=starts_in)
        visit.day, visit.status = day, status  # dated yesterday, whatever the hour now
        if status in (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED):
            visit.checked_in_at = as_utc(visit.starts_at)
            db.session.add(VisitEvent(visit_id=visit.id, kind="check_in", at=visit.checked_in_at, staff_id=sitter.id))
        visit.checked_out_at = checked_out_at
        return visit

    window_open = booked(-timedelta(minutes=90), VisitStatus.SCHEDULED)  # ended an hour ago: check-in still taken
    out_after_midnight = booked(-timedelta(minutes=80), VisitStatus.COMPLETED, checked_out_at=utcnow())  # no report
    under_way = booked(-timedelta(minutes=50), VisitStatus.IN_PROGRESS)  # checked in before midnight
    window_over = booked(-(checkins.EARLY + timedelta(hours=1)), VisitStatus.SCHEDULED)  # the office's to settle now
    out_before_midnight = booked(-timedelta(hours=4), VisitStatus.COMPLETED, checked_out_at=midnight - timedelta(
        minutes=5))
    reported = booked(-timedelta(minutes=70), VisitStatus.COMPLETED, checked_out_at=utcnow())
    db.session.add(VisitReport(visit_id=reported.id, client_id=reported.client_id, version=1, checklist=[], notes="",
                               mood="", created_by_id=fill_in.id))
    called_off = booked(-timedelta(minutes=40), VisitStatus.CANCELLED)
    someone_elses = booked(-timedelta(minutes=30), VisitStatus.IN_PROGRESS, sitter=make.staff(Role.SITTER))
    to_come = booked(timedelta(hours=1), VisitStatus.SCHEDULED, day=today)
    db.session.commit()
    assert checkins.check_in_window(window_open) == "open" and checkins.check_in_window(window_over) == "over"
    page = as_fill_in.get("/today/").get_data(as_text=True)
    shown = [int(found) for found in re.findall(r'<article id="visit-(\d+)"', page)]
    # The day before's first, in time order: to check in to, to send the report of, to check out.
    assert shown == [window_open.id, out_after_midnight.id, under_way.id, to_come.id], page
    for gone in (window_over, out_before_midnight, reported, called_off, someone_elses):
        assert f"/visits/{gone.id}" not in page, gone.id
    assert "Send the report" in re.search(rf'<article id="visit-{out_after_midnight.id}".*?</article>', page, re.S)[0]

    def card(visit: Visit) -> str:
        return re.search(rf'<article id="visit-{visit.id}".*?</article>', page, re.S)[0]

    with app.test_request_context():
        mark = f"From {formatted(yesterday, 'day_short')}"
    assert all(mark in card(v) for v in (window_open, out_after_midnight, under_way)) and "From " not in card(to_come)
    assert f'action="/visits/{window_open.id}/check-in"' in card(window_open)
    assert f'action="/visits/{under_way.id}/check-out"' in card(under_way)
    assert post(as_fill_in, f"/visits/{under_way.id}/check-out").status_code == 200
    assert fresh(under_way).status == VisitStatus.COMPLETED
    page = as_fill_in.get("/today/").get_data(as_text=True)
    assert "Undo check-out" in card(under_way) and mark in card(under_way)  # its report is still to send
    db.session.add(VisitReport(visit_id=under_way.id, client_id=under_way.client_id, version=1, checklist=[],
                               notes="", mood="", created_by_id=fill_in.id))
    db.session.commit()
    with app.test_request_context():  # reported, and past the undo's minutes, the visit done leaves her day
        later = utcnow() + timedelta(minutes=checkins.undo_minutes() + 1)
        days = checkins.sitter_days(fill_in, today, cards_until=later + timedelta(hours=3), now=later)
        assert [v.id for v in days[0].visits] == [window_open.id, out_after_midnight.id, to_come.id]
        assert under_way.id not in {v.id for v in days[0].done}  # today's finished lines are today's visits only


def test_check_in_and_out_record_server_times_once_and_the_duration(app, as_fill_in, visit):
    first = post(as_fill_in, f"/visits/{visit.id}/check-in")
    assert first.status_code == 200 and "<html" not in first.get_data(as_text=True)
    assert "Check out" in first.get_data(as_text=True)
    again = post(as_fill_in, f"/visits/{visit.id}/check-in")  # a double tap or a retry
    assert again.status_code == 200
    assert len(events(visit, "check_in")) == 1
    checked_in = fresh(visit).checked_in_at
    assert fresh(visit).status == VisitStatus.IN_PROGRESS and checked_in is not None
    assert post(as_fill_in, f"/visits/{visit.id}/check-out").status_code == 200
    assert post(as_fill_in, f"/visits/{visit.id}/check-out").status_code == 200
    done = fresh(visit)
    assert done.status == VisitStatus.COMPLETED and len(events(visit, "check_out")) == 1
    assert done.duration is not None and done.duration >= timedelta(0)
    assert done.is_short(50)  # seconds against a 30-minute walk


def test_without_htmx_a_tap_redirects_back_to_the_card(app, as_fill_in, visit):
    response = post(as_fill_in, f"/visits/{visit.id}/check-in", htmx=False)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/visits/{visit.id}")
    assert "Checked in at" in as_fill_in.get(response.headers["Location"]).get_data(as_text=True)


def test_wrong_visits_and_states_are_refused(app, as_fill_in, visit, me, rex, walk, make, sitter):
    theirs = book(me.client, walk, sitter, [rex])
    assert post(as_fill_in, f"/visits/{theirs.id}/check-in").status_code == 404  # another sitter's visit
    later = book(me.client, walk, visit.sitter, [rex], starts_in=timedelta(days=3))
    refused = post(as_fill_in, f"/visits/{later.id}/check-in")
    assert refused.status_code == 409 and "check in when you arrive" in refused.get_data(as_text=True)
    assert post(as_fill_in, f"/visits/{visit.id}/check-out").status_code == 409  # not checked in yet
    visit.status = VisitStatus.CANCELLED
    db.session.commit()
    assert post(as_fill_in, f"/visits/{visit.id}/check-in").status_code == 409
    assert events(visit) == [] and events(later) == []


def test_undo_within_the_window_and_not_after(app, as_fill_in, visit):
    post(as_fill_in, f"/visits/{visit.id}/check-in")
    undone = post(as_fill_in, f"/visits/{visit.id}/undo")
    assert undone.status_code == 200 and fresh(visit).status == VisitStatus.SCHEDULED
    assert fresh(visit).checked_in_at is None
    assert [e.kind for e in events(visit)] == ["check_in", "undo_check_in"]  # the tap stays on record
    post(as_fill_in, f"/visits/{visit.id}/check-in")
    post(as_fill_in, f"/visits/{visit.id}/check-out")
    for event in events(visit):
        event.at = event.at - timedelta(minutes=6)
    db.session.commit()
    late = post(as_fill_in, f"/visits/{visit.id}/undo")
    assert late.status_code == 409 and "ask a manager" in late.get_data(as_text=True)
    assert fresh(visit).status == VisitStatus.COMPLETED


def test_a_manager_corrects_times_with_a_reason_kept_beside_the_original(app, client, manager, as_fill_in, visit):
    post(as_fill_in, f"/visits/{visit.id}/check-in")
    post(as_fill_in, f"/visits/{visit.id}/check-out")
    original_in = fresh(visit).checked_in_at
    assert post(as_fill_in, f"/visits/{visit.id}/times", {"reason": "x"}).status_code == 403
    login_as(client, manager)
    local_start = (datetime.now(NY) - timedelta(hours=2)).replace(second=0, microsecond=0)
    form = {"checked_in_at": local_start.strftime("%Y-%m-%dT%H:%M"),
            "checked_out_at": (local_start + timedelta(minutes=35)).strftime("%Y-%m-%dT%H:%M"), "reason": ""}
    missing = post(client, f"/visits/{visit.id}/times", form)
    assert missing.status_code == 422 and "Say why the times change" in missing.get_data(as_text=True)
    backwards = post(client, f"/visits/{visit.id}/times", {**form, "reason": "Forgot to tap",
                                                           "checked_out_at": form["checked_in_at"]})
    assert backwards.status_code == 422 and "must be after the check-in" in backwards.get_data(as_text=True)
    ok = post(client, f"/visits/{visit.id}/times", {**form, "reason": "Forgot to tap"})
    assert ok.status_code == 200
    corrected = fresh(visit)
    assert corrected.duration == timedelta(minutes=35) and not corrected.is_short(50)
    correction = events(visit, "corrected")[0]
    assert correction.reason == "Forgot to tap" and correction.staff_id == manager.id
    assert correction.details["checked_in_at"][0] == original_in.replace(tzinfo=timezone.utc).isoformat() \
        if original_in.tzinfo is None else original_in.isoformat()
    assert "check-in" in client.get(f"/visits/{visit.id}").get_data(as_text=True)


def test_a_past_visit_nobody_checked_in_to_can_be_marked_missed(app, client, manager, visit):
    visit.starts_at, visit.ends_at = utcnow() - timedelta(hours=3), utcnow() - timedelta(hours=2)
    db.session.commit()
    assert fresh(visit).state == "no_check_in"
    login_as(client, manager)
    assert post(client, f"/visits/{visit.id}/missed", {"reason": ""}).status_code == 422
    assert post(client, f"/visits/{visit.id}/missed", {"reason": "Sitter was ill"}).status_code == 200
    assert fresh(visit).status == VisitStatus.MISSED and events(visit, "missed")[0].reason == "Sitter was ill"


@pytest.mark.parametrize("mode, position, status, stored", [
    ("off", {"latitude": "42.36", "longitude": "-71.06", "accuracy": "12"}, 200, False),
    ("asked", {}, 200, False),
    ("asked", {"latitude": "42.36", "longitude": "-71.06", "accuracy": "12"}, 200, True),
    ("asked", {"latitude": "420", "longitude": "-71.06"}, 200, False),  # not a place on Earth: not kept
    ("required", {}, 422, False),
    ("required", {"latitude": "42.36", "longitude": "-71.06", "accuracy": "12"}, 200, True),
])
def test_location_off_asked_or_required(app, as_fill_in, visit, mode, position, status, stored):
    get_settings().location_mode = mode
    db.session.commit()
    response = post(as_fill_in, f"/visits/{visit.id}/check-in", position)
    assert response.status_code == status
    saved = fresh(visit)
    if status == 422:
        assert "Allow this page to use your location" in response.get_data(as_text=True)
        assert saved.status == VisitStatus.SCHEDULED and events(visit) == []
        return
    assert (saved.check_in_latitude == pytest.approx(42.36)) if stored else saved.check_in_latitude is None
    assert (events(visit, "check_in")[0].accuracy == 12) if stored else events(visit, "check_in")[0].accuracy is None


def test_a_report_needs_its_required_lines_and_completes_the_visit(app, as_fill_in, visit, inbox):
    post(as_fill_in, f"/visits/{visit.id}/check-in")
    items = {i.label: i.id for i in db.session.scalars(select(ChecklistItem))}
    prefix = f"v{visit.id}-"
    refused = post(as_fill_in, f"/visits/{visit.id}/report", {prefix + "notes": "Lovely walk", prefix + "mood": "happy",
                                                              f"{prefix}item_{items['Poo']}": "y"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Required: tick it" in body
    assert body.index("Required: tick it") > body.index(f'name="{prefix}item_{items["Fresh water"]}"')
    assert "Lovely walk" in body  # nothing typed is lost
    assert db.session.scalar(select(func.count(VisitReport.id))) == 0 and fresh(visit).status == VisitStatus.IN_PROGRESS
    sent = post(as_fill_in, f"/visits/{visit.id}/report", {prefix + "notes": "Lovely walk", prefix + "mood": "happy",
                                                           f"{prefix}item_{items['Fresh water']}": "y"})
    assert sent.status_code == 200
    done = fresh(visit)
    assert done.status == VisitStatus.COMPLETED and done.checked_out_at is not None
    report = done.report
    assert report.version == 1 and report.mood == "happy"
    assert report.checklist == [{"label": "Fresh water", "required": True, "done": True},
                                {"label": "Poo", "required": False, "done": False}]
    outbox.deliver_all()
    [mail] = inbox.to("nia@example.com")
    assert "visit report" in mail["Subject"]
    assert "Lovely walk" in inbox.text(mail) and "[x] Fresh water" in inbox.text(mail) and "[ ] Poo" in inbox.text(mail)


def test_photos_lose_their_exif_get_thumbnails_and_go_with_the_report(app, as_fill_in, visit, inbox, portal, make,
                                                                      password_hash):
    post(as_fill_in, f"/visits/{visit.id}/check-in")
    prefix = f"v{visit.id}-"
    data = jpeg_with_gps()
    before = utcnow()
    added = as_fill_in.post(f"/visits/{visit.id}/photos", headers=HX, content_type="multipart/form-data",
                            data={prefix + "photo": (io.BytesIO(data), "IMG_0001.jpg")})
    assert added.status_code == 200, added.get_data(as_text=True)[:500]
    photo = db.session.scalar(select(ReportPhoto))
    folder = os.path.join(app.config["UPLOAD_FOLDER"], "visit-photos")
    stored = open(os.path.join(folder, photo.stored_name), "rb").read()
    thumb = open(os.path.join(folder, photo.thumb_name), "rb").read()
    for kept in (stored, thumb):
        image = Image.open(io.BytesIO(kept))
        assert not image.getexif() and "exif" not in image.info
        assert b"PhoneCam" not in kept
    assert max(Image.open(io.BytesIO(thumb)).size) <= 480
    assert photo.sha256 == hashlib.sha256(stored).hexdigest()
    assert photo.report_id is None and photo.received_at.replace(tzinfo=timezone.utc) >= before.replace(microsecond=0)
    not_image = as_fill_in.post(f"/visits/{visit.id}/photos", headers=HX, content_type="multipart/form-data",
                                data={prefix + "photo": (io.BytesIO(b"%PDF-1.4 nope"), "x.jpg")})
    assert not_image.status_code == 422 and "could not be read" in not_image.get_data(as_text=True)
    nothing = post(as_fill_in, f"/visits/{visit.id}/photos")
    assert nothing.status_code == 422 and "Take or choose a photo first" in nothing.get_data(as_text=True)
    items = {i.label: i.id for i in db.session.scalars(select(ChecklistItem))}
    post(as_fill_in, f"/visits/{visit.id}/report", {f"{prefix}item_{items['Fresh water']}": "y"})
    assert db.session.get(ReportPhoto, photo.id).report_id is not None
    # A sent photo stays with its report.
    assert post(as_fill_in, f"/visits/{visit.id}/photos/{photo.id}/delete").status_code == 409
    outbox.deliver_all()
    [mail] = inbox.to("nia@example.com")
    html = inbox.html(mail)
    thumb_url = re.search(r'<img src="([^"]+/visits/emailed/[^"]+\.jpg)"', html).group(1)
    anonymous = app.test_client()
    path = thumb_url.split("//", 1)[1].split("/", 1)[1]
    shown = anonymous.get("/" + path)
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg" and shown.data == thumb
    assert anonymous.get("/" + path.replace(".jpg", "x.jpg")).status_code == 404
    # The client sees the report and the full photo; another client sees neither.
    assert portal.get(f"/portal/reports/photos/{photo.id}").data == stored
    listing = portal.get("/portal/reports").get_data(as_text=True)
    assert "Dog walk" in listing and "1 photo" in listing
    other = make.client(first_name="Otto", last_name="Else", email=None)
    login = ClientLogin(client=other, email="otto@example.com", first_name="Otto", password_hash=password_hash)
    db.session.add(login)
    db.session.commit()
    stranger = app.test_client()
    login_as(stranger, login)
    assert stranger.get(f"/portal/reports/{visit.id}").status_code == 404
    assert stranger.get(f"/portal/reports/photos/{photo.id}").status_code == 404
    assert stranger.get(f"/visits/photos/{photo.id}").status_code in (302, 403)
    get_settings().portal_visit_reports = False
    db.session.commit()
    assert portal.get("/portal/reports").status_code == 404
    assert portal.get(f"/portal/reports/photos/{photo.id}").status_code == 404


def test_a_correction_is_a_new_version_and_both_are_kept(app, as_fill_in, visit, portal, inbox):
    post(as_fill_in, f"/visits/{visit.id}/check-in")
    prefix = f"v{visit.id}-"
    items = {i.label: i.id for i in db.session.scalars(select(ChecklistItem))}
    post(as_fill_in, f"/visits/{visit.id}/report", {f"{prefix}item_{items['Fresh water']}": "y",
                                                    prefix + "notes": "Rex ate well"})
    assert post(as_fill_in, f"/visits/{visit.id}/report", {f"{prefix}item_0": "y"}).status_code == 409  # sent already
    form = as_fill_in.get(f"/visits/{visit.id}?correct=1").get_data(as_text=True)
    assert "What changes, and why" in form and "Rex ate well" in form
    no_reason = post(as_fill_in, f"/visits/{visit.id}/report", {"correct": "1", f"{prefix}item_0": "y",
                                                                prefix + "notes": "Rex ate half"})
    assert no_reason.status_code == 422 and "Say what the correction changes" in no_reason.get_data(as_text=True)
    ok = post(as_fill_in, f"/visits/{visit.id}/report", {"correct": "1", f"{prefix}item_0": "y",
                                                         prefix + "notes": "Rex ate half",
                                                         prefix + "reason": "He left half the bowl"})
    assert ok.status_code == 200
    versions = list(db.session.scalars(select(VisitReport).order_by(VisitReport.version)))
    assert [(v.version, v.notes, v.reason) for v in versions] == [(1, "Rex ate well", ""),
                                                                 (2, "Rex ate half", "He left half the bowl")]
    assert versions[1].created_by_id == visit.sitter_id
    page = portal.get(f"/portal/reports/{visit.id}").get_data(as_text=True)
    assert "Rex ate half" in page and "He left half the bowl" in page and "Rex ate well" in page
    outbox.deliver_all()
    subjects = [m["Subject"] for m in inbox.to("nia@example.com")]
    assert len(subjects) == 2
    assert any("corrected visit report" in s for s in subjects)


def test_report_before_check_out_option(app, as_fill_in, visit):
    get_settings().report_before_checkout = True
    db.session.commit()
    post(as_fill_in, f"/visits/{visit.id}/check-in")
    refused = post(as_fill_in, f"/visits/{visit.id}/check-out")
    assert refused.status_code == 409 and "Send the visit report first" in refused.get_data(as_text=True)


def test_the_client_calendar_panel_shows_the_report(app, as_fill_in, visit, portal):
    post(as_fill_in, f"/visits/{visit.id}/check-in")
    items = {i.label: i.id for i in db.session.scalars(select(ChecklistItem))}
    post(as_fill_in, f"/visits/{visit.id}/report", {f"v{visit.id}-item_{items['Fresh water']}": "y",
                                                    f"v{visit.id}-notes": "All good"})
    panel = portal.get(f"/portal/visits/{visit.id}").get_data(as_text=True)
    assert "Read the report" in panel and "All good" in panel and "Checked in" in panel


def test_staff_see_the_record_and_sitters_see_no_prices_on_the_schedule(app, client, manager, as_fill_in, visit):
    post(as_fill_in, f"/visits/{visit.id}/check-in")
    sitter_view = as_fill_in.get(f"/schedule/visits/{visit.id}").get_data(as_text=True)
    assert "Checked in" in sitter_view and "$" not in sitter_view and "Open the visit card" in sitter_view
    login_as(client, manager)
    record = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "Correct the times" in record and "checked in" in record


def test_staff_edit_a_services_checklist_and_removed_lines_retire(app, client, manager, walk):
    login_as(client, manager)
    page = client.get(f"/resources/services/{walk.id}/checklist")
    assert page.status_code == 200 and "Fresh water" in page.get_data(as_text=True)
    items = list(db.session.scalars(select(ChecklistItem).order_by(ChecklistItem.position)))
    form = {"rows": "4", "id-0": str(items[0].id), "label-0": "Fresh water", "required-0": "y",
            "id-1": str(items[1].id), "label-1": "", "label-2": "Medication given", "required-2": "y", "label-3": ""}
    saved = post(client, f"/resources/services/{walk.id}/checklist", form)
    assert saved.status_code == 200
    db.session.expire_all()
    active = [(i.label, i.required) for i in db.session.scalars(
        select(ChecklistItem).where(ChecklistItem.active.is_(True)).order_by(ChecklistItem.position))]
    assert active == [("Fresh water", True), ("Medication given", True)]
    assert db.session.get(ChecklistItem, items[1].id).active is False  # retired, not deleted
    duplicate = post(client, f"/resources/services/{walk.id}/checklist",
                     {"rows": "2", "label-0": "Walk", "label-1": "walk"})
    assert duplicate.status_code == 422 and "already on the card" in duplicate.get_data(as_text=True)


def test_site_options_for_visits_under_way(app, client, manager):
    login_as(client, manager)
    page = client.get("/settings/").get_data(as_text=True)
    form = {name: value for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"[^>]*checked', page)}
    form.update({"csrf_token": "", "cancellation_hours": "24", "location_mode": "required", "short_visit_percent": "60",
                 "late_grace_minutes": "20", "travel_gap_minutes": "15", "report_before_checkout": "y"})
    assert post(client, "/settings/", form).status_code == 200
    settings = get_settings()
    assert (settings.location_mode, settings.short_visit_percent, settings.late_grace_minutes,
            settings.travel_gap_minutes, settings.report_before_checkout) == ("required", 60, 20, 15, True)
    bad = post(client, "/settings/", {**form, "short_visit_percent": "150", "location_mode": "always"})
    assert bad.status_code == 422 and "from 0 to 100" in bad.get_data(as_text=True)
    assert get_settings().short_visit_percent == 60


def test_the_lockbox_code_is_shown_to_her_on_the_day_and_each_showing_is_logged(app, as_fill_in, visit, me, rex, walk,
                                                                               client, manager):
    me.client.lockbox_code = "4711"
    db.session.commit()
    assert "4711" not in as_fill_in.get("/today/").get_data(as_text=True)  # asked for, not shown
    shown = post(as_fill_in, f"/visits/{visit.id}/code")
    assert shown.status_code == 200 and "4711" in shown.get_data(as_text=True)
    assert [e.kind for e in events(visit)] == ["code_shown"] and events(visit)[0].staff_id == visit.sitter_id
    tomorrow = book(me.client, walk, visit.sitter, [rex], starts_in=timedelta(days=1))
    refused = post(as_fill_in, f"/visits/{tomorrow.id}/code")
    assert refused.status_code == 409 and "4711" not in refused.get_data(as_text=True) and events(tomorrow) == []
    login_as(client, manager)
    assert "Lockbox code shown to Fern" in client.get(f"/visits/{visit.id}").get_data(as_text=True)


def test_the_clients_profile_lists_its_visit_reports(app, as_fill_in, visit, client, manager, make, count_queries):
    login_as(client, manager)
    assert "No visit reports yet." in client.get(f"/clients/{visit.client_id}").get_data(as_text=True)
    post(as_fill_in, f"/visits/{visit.id}/check-in")
    items = {i.label: i.id for i in db.session.scalars(select(ChecklistItem))}
    post(as_fill_in, f"/visits/{visit.id}/report", {f"v{visit.id}-item_{items['Fresh water']}": "y"})
    profile = client.get(f"/clients/{visit.client_id}").get_data(as_text=True)
    assert f'href="/visits/{visit.id}"' in profile and "Fern" in profile
    # Another sitter of this client reads the list but gets no link to a visit that is not hers.
    other = make.staff(Role.SITTER, first_name="Gus")
    visit.client.primary_sitter_id = other.id
    db.session.commit()
    gus = app.test_client()
    login_as(gus, other)
    seen = gus.get(f"/clients/{visit.client_id}").get_data(as_text=True)
    assert "Dog walk" in seen and f'href="/visits/{visit.id}"' not in seen
    db.session.expire_all()  # the request shares the test's session: nothing already loaded
    with count_queries() as one_report:
        client.get(f"/clients/{visit.client_id}", headers=HX)
    for n in range(3):
        more = book(visit.client, visit.service, visit.sitter, visit.pets, starts_in=timedelta(days=-n - 1))
        more.status = VisitStatus.COMPLETED
        db.session.add(VisitReport(visit_id=more.id, client_id=more.client_id, version=1, checklist=[], notes="", mood="", created_by_id=None,
                                   reason=""))
    db.session.commit()
    db.session.expire_all()
    with count_queries() as four_reports:
        client.get(f"/clients/{visit.client_id}", headers=HX)
    assert four_reports.count == one_report.count


@pytest.mark.parametrize("role", [Role.SITTER, Role.MANAGER])
def test_today_reads_a_fixed_number_of_queries_whatever_the_visits(app, me, rex, walk, make, count_queries, role):
    """Her day costs the same with two visits or eight (each card's pets, photos, events, reports, key notices)."""
    staff = make.staff(role, first_name="Ida")
    browser = app.test_client()
    login_as(browser, staff)
    me.client.uses_keys = True
    get_settings()  # the settings row exists, as on any running install
    db.session.commit()

    def measured() -> int:
        db.session.expire_all()  # the request shares the test's session: nothing already loaded
        with count_queries() as counter:
            assert browser.get("/today/").status_code == 200
        return counter.count

    for hours in (1, 2):
        book(me.client, walk, staff, [rex], starts_in=timedelta(hours=hours))
    few = measured()
    for hours in range(3, 9):
        other = make.client()
        book(other, walk, staff, [make.pet(other)], starts_in=timedelta(hours=hours))
    assert measured() == few


def test_the_card_offers_check_in_only_while_a_tap_would_be_taken(app, as_fill_in, visit, me, rex, walk):
    later = book(me.client, walk, visit.sitter, [rex], starts_in=timedelta(hours=5))
    gone = book(me.client, walk, visit.sitter, [rex], starts_in=timedelta(days=-2))
    card = {v.id: as_fill_in.get(f"/visits/{v.id}").get_data(as_text=True) for v in (visit, later, gone)}
    assert ">Check in</button>" in card[visit.id]
    assert ">Check in</button>" not in card[later.id] and "Check-in opens" in card[later.id]
    assert ">Check in</button>" not in card[gone.id] and "Too late to check in" in card[gone.id]
