"""Changing booked visits: sitters told of their visits, a sitter's clashes (overlaps and the travel gap) warned
about, and visits recorded after they happened. Email goes to a real SMTP server on loopback."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from extensions import db
from models import OutboxMessage, Role, StaffUser, Visit, VisitEvent, VisitStatus, as_utc
from services import outbox, visits
from services.settings import get_settings
from tests.conftest import HX, login_as, smtp_config
from tests.test_visits import ask, decide, next_month_day, the_request

NY = ZoneInfo("America/New_York")


@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


@pytest.fixture
def walk(make):
    return make.service(name="Dog walk", base_price_cents=2500)


@pytest.fixture
def rex(me, make):
    return make.pet(me.client, name="Rex")


@pytest.fixture
def lee(make):
    return make.staff(Role.SITTER, first_name="Lee", email="lee@example.com")


@pytest.fixture
def sami(make):
    return make.staff(Role.SITTER, first_name="Sami", email="sami@example.com")


@pytest.fixture
def desk(client, manager):
    login_as(client, manager)
    return client


def book(client, pets, service, sitter, day: date, start: time = time(10), end: time = time(11),
         status: VisitStatus = VisitStatus.SCHEDULED, window: str = "custom") -> Visit:
    visit = Visit(client=client, service=service, sitter=sitter, day=day, starts_at=visits.local_moment(day, start),
                  ends_at=visits.local_moment(day, end), window=window, price_cents=2500, status=status,
                  pets=list(pets), notes="", late_cancellation=False, cancelled_by="", reason="")
    db.session.add(visit)
    db.session.commit()
    return visit


def elsewhere(make, walk, sitter, day: date, start: time, end: time) -> Visit:
    """A visit of the same sitter for another client (Ann Lowe and her cat Tom)."""
    other = make.client(first_name="Ann", last_name="Lowe")
    return book(other, [make.pet(other, name="Tom")], walk, sitter, day, start, end)


def events(visit: Visit, kind: str) -> list[VisitEvent]:
    return list(db.session.scalars(select(VisitEvent).where(VisitEvent.visit_id == visit.id, VisitEvent.kind == kind)))


def queued() -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)))


def local(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(NY)


def body(response) -> str:
    return response.get_data(as_text=True)


def reassign(desk, visit, sitter, headers=None, **extra):
    data = {"reassign-sitter_id": str(sitter.id if sitter else 0), **extra}
    return desk.post(f"/schedule/visits/{visit.id}/reassign", data=data, headers=headers or {})


def move(desk, visit, day, window="custom", start="", end="", headers=None, **extra):
    data = {"move-day": day.isoformat(), "move-window": window, "move-start_time": start, "move-end_time": end, **extra}
    return desk.post(f"/schedule/visits/{visit.id}/move", data=data, headers=headers or {})


def test_a_sitter_is_emailed_her_visits_when_a_request_is_approved(app, portal, me, rex, walk, client, manager, sami,
                                                                   inbox):
    ask(portal, walk, [rex], start=next_month_day(3), end=next_month_day(5))
    login_as(client, manager)
    inbox.clear()
    assert decide(client, the_request(), sitter=sami).status_code == 303
    outbox.deliver_all()
    [message] = inbox.to("sami@example.com")  # one email for the three visits
    assert message["Subject"] == f"3 visits for you: Nia Reyes from {next_month_day(3):%a %-d %b %Y}"
    text = inbox.text(message)
    assert "These visits are now yours" in text and text.count("http://localhost/schedule/visits/") == 3
    assert "$" not in text and "$" not in inbox.html(message)


def test_a_sitter_is_emailed_her_visits_when_staff_add_them(app, desk, me, rex, walk, sami, inbox):
    response = desk.post(f"/schedule/new?client={me.client_id}", data={
        "services": [str(walk.id)], "pets": [str(rex.id)], "mode": "days", "days-0": next_month_day(9).isoformat(),
        "days-1": next_month_day(11).isoformat(), "window": "midday", "sitter_id": str(sami.id), "price": "",
        "action": "send"})
    assert response.status_code == 303
    assert "the client and the sitter are emailed" in body(desk.get(response.headers["Location"]))
    outbox.deliver_all()
    [message] = inbox.to("sami@example.com")
    assert message["Subject"].startswith("2 visits for you: Nia Reyes") and "$" not in inbox.text(message)
    assert len(inbox.to("nia@example.com")) == 1


def test_the_sitter_is_emailed_when_the_client_or_staff_cancel(app, portal, desk, me, rex, walk, sami, inbox):
    by_client = book(me.client, [rex], walk, sami, next_month_day(4))
    by_staff = book(me.client, [rex], walk, sami, next_month_day(6))
    assert portal.post(f"/portal/visits/{by_client.id}/cancel").status_code == 303
    response = desk.post(f"/schedule/visits/{by_staff.id}/cancel", data={"reason": "Storm warning"}, headers=HX)
    assert "the client and the sitter are emailed the reason" in body(response)
    outbox.deliver_all()
    first, second = inbox.to("sami@example.com")
    assert first["Subject"] == f"Visit cancelled: Nia Reyes on {next_month_day(4).day} {next_month_day(4):%b}"
    assert "Nia Reyes cancelled this visit" in inbox.text(first)
    assert "This visit is cancelled" in inbox.text(second) and "Why: Storm warning" in inbox.text(second)
    for message in (first, second):
        assert "$" not in inbox.text(message) and "$" not in inbox.html(message)
    assert len(inbox.to("hello@example.com")) == 1  # the business still hears of the client's cancellation


def test_overlaps_are_warned_about_at_approval_before_and_after(app, portal, me, rex, walk, client, manager, sami, lee,
                                                               make):
    day = next_month_day(14)
    elsewhere(make, walk, sami, day, time(9), time(10))
    ask(portal, walk, [rex], start=day, end=day)  # morning, 8-11
    visit_request = the_request()
    login_as(client, manager)
    overlap = (f"{day:%a %-d %b %Y}, 8 AM–11 AM: Sami is also booked 9 AM–10 AM for Ann Lowe (Dog walk): "
               "the times overlap.")
    me.client.primary_sitter_id = sami.id
    db.session.commit()
    review = body(client.get(f"/requests/{visit_request.id}"))
    assert overlap in review and "A warning only" in review

    [visit] = visit_request.visits
    check = {"action": "check", "sitter_id": str(lee.id), "visits-0-visit_id": str(visit.id), "visits-0-approve": "y",
             "visits-0-start": "08:00", "visits-0-end": "11:00", "visits-0-price": "25"}
    clashes_only = {**HX, "HX-Target": "sitter-clashes"}
    free = client.post(f"/requests/{visit_request.id}/decide", data=check, headers=clashes_only)
    assert free.status_code == 200 and "<html" not in body(free) and 'id="sitter-clashes"' in body(free)
    assert "No other visit of that sitter is near this time." in body(free)
    check["sitter_id"] = str(sami.id)
    busy = client.post(f"/requests/{visit_request.id}/decide", data=check, headers=clashes_only)
    assert overlap in body(busy) and "<html" not in body(busy)
    page = client.post(f"/requests/{visit_request.id}/decide", data=check)  # without JavaScript: the whole review
    assert page.status_code == 200 and "<html" in body(page) and overlap in body(page)
    check["visits-0-start"], check["visits-0-end"] = "10:30", "11:30"  # the times as changed in the form count
    later = body(client.post(f"/requests/{visit_request.id}/decide", data=check, headers=clashes_only))
    assert "Sami has only 30 minutes" not in later and "No other visit" in later
    db.session.expire_all()
    assert the_request().status.value == "pending"  # checking decides nothing

    approved = decide(client, visit_request, sitter=sami)
    assert approved.status_code == 303
    flashed = body(client.get(approved.headers["Location"]))
    assert "Approved: the visits are on the schedule" in flashed and f"Warning: {overlap}" in flashed


def test_the_travel_gap_is_warned_about_when_adding(app, desk, me, rex, walk, sami, make):
    get_settings().travel_gap_minutes = 30
    db.session.commit()
    day = next_month_day(16)
    elsewhere(make, walk, sami, day, time(10), time(10, 50))
    data = {"services": [str(walk.id)], "pets": [str(rex.id)], "mode": "days", "days-0": day.isoformat(),
            "window": "midday", "sitter_id": str(sami.id), "price": ""}
    gap = (f"{day:%a %-d %b %Y}, 11 AM–2 PM: Sami has only 10 minutes to or from Ann Lowe (Dog walk, 10 AM–10:50 AM); "
           "the travel gap is 30 minutes.")
    fragment = desk.post(f"/schedule/new/preview?client={me.client_id}", data=data,
                         headers={**HX, "HX-Target": "staff-preview"})
    assert fragment.status_code == 200 and "<html" not in body(fragment) and gap in body(fragment)
    assert 'id="staff-preview"' in body(fragment) and "$25.00" in body(fragment)
    page = desk.post(f"/schedule/new?client={me.client_id}", data={**data, "action": "preview"})
    assert "<html" in body(page) and gap in body(page)
    added = desk.post(f"/schedule/new?client={me.client_id}", data={**data, "action": "send"})
    assert added.status_code == 303
    assert f"Warning: {gap}" in body(desk.get(added.headers["Location"]))

    get_settings().travel_gap_minutes = 10  # ten minutes is enough
    db.session.commit()
    assert "travel gap" not in body(desk.post(f"/schedule/new/preview?client={me.client_id}", data=data,
                                              headers={**HX, "HX-Target": "staff-preview"}))


def test_clashes_take_a_fixed_number_of_queries(app, me, rex, walk, sami, make, count_queries):
    day = next_month_day(8)
    get_settings()
    times = [(visits.local_moment(day, time(9)), visits.local_moment(day, time(10)))]
    elsewhere(make, walk, sami, day, time(9), time(10))
    db.session.expire_all()
    sami_again = db.session.get(StaffUser, sami.id)
    with count_queries() as few:
        assert len(visits.sitter_clashes(sami_again, me.client_id, times)) == 1
    for hour in (11, 13, 15, 17):
        elsewhere(make, walk, sami, day, time(hour), time(hour + 1))
    many_times = times + [(visits.local_moment(day, time(h, 30)), visits.local_moment(day, time(h + 1, 30)))
                          for h in (11, 13, 15, 17)]
    db.session.expire_all()
    sami_again = db.session.get(StaffUser, sami.id)
    with count_queries() as many:
        assert len(visits.sitter_clashes(sami_again, me.client_id, many_times)) == 5
    assert many.count == few.count


def test_staff_record_a_visit_that_already_happened(app, desk, manager, me, rex, walk, sami, inbox):
    yesterday = datetime.now(NY).date() - timedelta(days=1)
    data = {"services": [str(walk.id)], "pets": [str(rex.id)], "mode": "days", "days-0": yesterday.isoformat(),
            "window": "custom", "start_time": "09:00", "end_time": "09:40", "sitter_id": str(sami.id), "price": ""}
    preview = desk.post(f"/schedule/new/preview?client={me.client_id}", data=data,
                        headers={**HX, "HX-Target": "staff-preview"})
    assert "already happened: recorded as completed" in body(preview) and "cannot be booked" not in body(preview)
    response = desk.post(f"/schedule/new?client={me.client_id}", data={**data, "action": "send"})
    assert response.status_code == 303
    page = body(desk.get(response.headers["Location"]))
    assert "Recorded 1 visit for Nia Reyes that already happened, as completed." in page
    [visit] = db.session.scalars(select(Visit)).all()
    assert visit.status == VisitStatus.COMPLETED and visit.day == yesterday and visit.sitter_id == sami.id
    assert as_utc(visit.checked_in_at) == as_utc(visit.starts_at) == visits.local_moment(yesterday, time(9))
    assert as_utc(visit.checked_out_at) == as_utc(visit.ends_at) == visits.local_moment(yesterday, time(9, 40))
    [event] = events(visit, "recorded")
    assert event.staff_id == manager.id and event.reason == "Recorded by staff after the visit"
    outbox.deliver_all()
    assert inbox.messages == []  # nothing to tell anyone about a visit that is over
    panel = body(desk.get(f"/schedule/visits/{visit.id}"))
    assert "Completed" in panel and "reassign-sitter_id" not in panel  # over: nothing to change


def test_a_visit_under_way_is_refused_and_clients_still_cannot_ask_for_the_past(app, desk, portal, me, rex, walk, sami):
    now = datetime.now(NY)
    if not time(1) <= now.time() <= time(22):
        pytest.skip("a window around now must fit in the day")
    data = {"services": [str(walk.id)], "pets": [str(rex.id)], "mode": "days", "days-0": now.date().isoformat(),
            "window": "custom", "start_time": (now - timedelta(minutes=30)).strftime("%H:%M"),
            "end_time": (now + timedelta(minutes=30)).strftime("%H:%M"), "sitter_id": str(sami.id), "action": "send"}
    response = desk.post(f"/schedule/new?client={me.client_id}", data=data)
    assert response.status_code == 422 and "that visit would be under way now" in body(response)
    yesterday = now.date() - timedelta(days=1)
    asked = ask(portal, walk, [rex], start=yesterday, end=yesterday)
    assert asked.status_code == 422 and "that time has already passed" in body(asked)
    assert db.session.scalar(select(func.count(Visit.id))) == 0


def test_past_days_on_the_schedule_link_to_recording_visits(app, desk, client, sami):
    today = datetime.now(NY).date()
    week = body(desk.get(f"/schedule/?view=week&date={(today - timedelta(days=7)).isoformat()}"))
    assert "visits that happened on" in week and f"/schedule/new?day={(today - timedelta(days=7)).isoformat()}" in week
    login_as(client, sami)
    assert "/schedule/new?day=" not in body(client.get("/schedule/?view=week"))
