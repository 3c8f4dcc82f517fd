"""Changing booked visits: reassigning and moving them, sitters told of their visits, a sitter's clashes
(overlaps and the travel gap) warned about, and visits recorded after they happened. Email goes to a real
SMTP server on loopback."""
import threading
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


def test_a_visit_under_way_is_refused_and_clients_still_cannot_ask_for_the_past(app, desk, portal, me, rex, walk, sami,
                                                                                monkeypatch):
    # The clock reads today's local noon, so a window around "now" fits in the day at any hour the suite runs.
    now = datetime.combine(datetime.now(NY).date(), time(12), tzinfo=NY)
    monkeypatch.setattr(visits, "utcnow", lambda: now.astimezone(timezone.utc))
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


def test_the_visit_panel_offers_changes_to_managers_as_a_page_and_a_fragment(app, desk, me, rex, walk, sami, client,
                                                                             sitter):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    page, fragment = desk.get(f"/schedule/visits/{visit.id}"), desk.get(f"/schedule/visits/{visit.id}",
                                                                        headers={**HX, "HX-Target": "visit"})
    assert "<html" in body(page) and "<html" not in body(fragment)
    for response in (page, fragment):
        text = body(response)
        assert "Give this visit to another sitter" in text and "Move to another day or time" in text
        assert 'name="reassign-sitter_id"' in text and 'name="move-day"' in text
        assert f'value="{visit.day.isoformat()}"' in text and 'value="10:00"' in text
    login_as(client, sami)  # her own visit: she reads it, without the forms that change it
    own = body(client.get(f"/schedule/visits/{visit.id}"))
    assert "Dog walk" in own and "reassign-sitter_id" not in own and "move-day" not in own


def test_a_manager_reassigns_a_visit_and_the_client_and_both_sitters_are_emailed(app, desk, manager, me, rex, walk,
                                                                               sami, lee, inbox):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    response = reassign(desk, visit, lee, headers={**HX, "HX-Target": "visit"})
    text = body(response)
    assert response.status_code == 200 and "<html" not in text
    assert "Reassigned to Lee; the client and both sitters are emailed." in text
    db.session.expire_all()
    assert visit.sitter_id == lee.id and visit.status == VisitStatus.SCHEDULED
    [event] = events(visit, "reassigned")
    assert event.staff_id == manager.id
    assert event.details == {"sitter": ["Sami Member", "Lee Member"], "sitter_id": [sami.id, lee.id]}

    outbox.deliver_all()
    [to_client] = inbox.to("nia@example.com")
    assert "a new sitter for your visit" in to_client["Subject"]
    assert "Lee will come to this visit instead of Sami" in inbox.text(to_client)
    [to_lee] = inbox.to("lee@example.com")
    assert "A visit for you: Nia Reyes" in to_lee["Subject"]
    link = f"http://localhost/schedule/visits/{visit.id}"
    assert link in inbox.text(to_lee) and f'href="{link}"' in inbox.html(to_lee)
    [to_sami] = inbox.to("sami@example.com")
    assert "No longer yours: Nia Reyes" in to_sami["Subject"] and "no longer need to go" in inbox.text(to_sami)
    assert link not in inbox.text(to_sami)  # not hers any more: the link would answer 404
    for message in (to_lee, to_sami):  # sitters never see prices
        assert "$" not in inbox.text(message) and "$" not in inbox.html(message)
        assert "Rex" in inbox.text(message) and "Dog walk" in inbox.text(message)


def test_without_javascript_a_reassignment_redirects_to_the_visit(app, desk, me, rex, walk, sami, lee):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    response = reassign(desk, visit, lee)
    assert response.status_code == 303 and response.headers["Location"] == f"/schedule/visits/{visit.id}"
    page = body(desk.get(response.headers["Location"]))
    assert "<html" in page and "Reassigned to Lee" in page and "Lee Member" in page


@pytest.mark.parametrize("headers", [{}, {**HX, "HX-Target": "visit"}], ids=["page", "htmx"])
def test_blocked_and_inactive_sitters_are_refused_beside_the_field(app, desk, me, rex, walk, sami, make, headers):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    blocked = make.staff(Role.SITTER, first_name="Bo")
    gone = make.staff(Role.SITTER, first_name="Gil", active=False)
    me.client.blocked_sitters = [blocked]
    db.session.commit()
    panel = body(desk.get(f"/schedule/visits/{visit.id}"))
    assert "Bo Member" not in panel and "Gil Member" not in panel  # neither is offered
    before = queued()
    for who, name in ((blocked, "Bo"), (gone, "Gil"), (None, None)):
        response = reassign(desk, visit, who, headers=headers)
        text = body(response)
        assert response.status_code == 422 and ("<html" in text) == (not headers)
        message = {"Bo": "Bo cannot be assigned to Nia Reyes: the client blocked this sitter.",
                   "Gil": "Gil is inactive and cannot be assigned visits.", None: "Choose a sitter."}[name]
        assert message in text and text.index(message) > text.index('name="reassign-sitter_id"')
    db.session.expire_all()
    assert visit.sitter_id == sami.id and events(visit, "reassigned") == [] and queued() == before


def test_a_double_submitted_reassignment_records_once(app, desk, me, rex, walk, sami, lee):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    before = queued()
    first, second = reassign(desk, visit, lee), reassign(desk, visit, lee)
    assert first.status_code == 303
    assert second.status_code == 422 and "Lee already has this visit." in body(second)
    db.session.expire_all()
    assert len(events(visit, "reassigned")) == 1 and queued() == before + 3  # client, Lee, Sami: once each


def test_two_managers_reassigning_at_once_have_one_winner(app, me, rex, walk, sami, make):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    visit_id = visit.id
    managers = [make.staff(Role.MANAGER) for _ in range(4)]
    targets = [make.staff(Role.SITTER) for _ in range(4)]
    pairs = [(m.id, t.id) for m, t in zip(managers, targets)]
    barrier = threading.Barrier(len(pairs))
    outcomes = []

    def attempt(manager_id, sitter_id):
        with app.app_context():
            try:
                staff = db.session.get(StaffUser, manager_id)
                mine = visits.load_visit(visit_id, staff)
                mine.client.blocked_sitters  # loaded before the race, as the view has it
                sitter = db.session.get(StaffUser, sitter_id)
                barrier.wait()
                visits.reassign_visit(mine, sitter, staff)
                db.session.commit()
                outcomes.append("won")
            except visits.NotChangeable:
                db.session.rollback()
                outcomes.append("lost")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["lost"] * 3 + ["won"], outcomes
    db.session.expire_all()
    [event] = events(visit, "reassigned")
    assert db.session.get(Visit, visit_id).sitter_id == event.details["sitter_id"][1]


@pytest.mark.parametrize("headers", [{}, {**HX, "HX-Target": "visit"}], ids=["page", "htmx"])
def test_a_visit_that_started_or_was_cancelled_cannot_be_changed(app, desk, me, rex, walk, sami, lee, headers):
    started = book(me.client, [rex], walk, sami, datetime.now(NY).date())
    started.starts_at = datetime.now(timezone.utc) - timedelta(minutes=10)
    started.ends_at = datetime.now(timezone.utc) + timedelta(minutes=50)
    cancelled = book(me.client, [rex], walk, sami, next_month_day(4), status=VisitStatus.CANCELLED)
    db.session.commit()
    for visit, message in ((started, "already started"), (cancelled, "this one is cancelled")):
        for response in (reassign(desk, visit, lee, headers=headers),
                         move(desk, visit, next_month_day(6), "morning", headers=headers)):
            text = body(response)
            assert response.status_code == 409 and message in text and ("<html" in text) == (not headers)
            assert "reassign-sitter_id" not in text  # the panel as it is now: nothing left to change
    db.session.expire_all()
    assert started.sitter_id == sami.id and cancelled.day == next_month_day(4)
    assert db.session.scalar(select(func.count(VisitEvent.id))) == 0


def test_a_manager_moves_a_visit_and_the_client_and_sitter_are_emailed(app, desk, manager, me, rex, walk, sami,
                                                                       inbox):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    old_starts, old_ends = as_utc(visit.starts_at), as_utc(visit.ends_at)
    new_day = next_month_day(9)
    response = move(desk, visit, new_day, "evening", headers={**HX, "HX-Target": "visit"})
    text = body(response)
    assert response.status_code == 200 and "<html" not in text
    assert f"Moved to {new_day:%a %-d %b %Y}, Evening, 5 PM–8 PM; the client and the sitter are emailed." in text
    db.session.expire_all()
    assert visit.day == new_day and visit.window == "evening"
    assert local(visit.starts_at).strftime("%Y-%m-%d %H:%M") == f"{new_day.isoformat()} 17:00"
    assert local(visit.ends_at).strftime("%H:%M") == "20:00"
    [event] = events(visit, "moved")
    assert event.staff_id == manager.id
    assert event.details["day"] == [next_month_day(4).isoformat(), new_day.isoformat()]
    assert event.details["starts_at"] == [old_starts.isoformat(), as_utc(visit.starts_at).isoformat()]
    assert event.details["ends_at"] == [old_ends.isoformat(), as_utc(visit.ends_at).isoformat()]
    week = body(desk.get(f"/schedule/?view=day&date={new_day.isoformat()}"))
    assert f"/schedule/visits/{visit.id}" in week  # the day index moved with the times

    outbox.deliver_all()
    [to_client] = inbox.to("nia@example.com")
    assert f"your visit is moved to {new_day.day} {new_day:%b}" in to_client["Subject"]
    assert f"We moved your visit from {next_month_day(4):%a %-d %b %Y}, 10 AM–11 AM" in inbox.text(to_client)
    [to_sami] = inbox.to("sami@example.com")
    assert "Visit moved: Nia Reyes" in to_sami["Subject"] and "Evening, 5 PM–8 PM" in inbox.text(to_sami)
    assert f"http://localhost/schedule/visits/{visit.id}" in inbox.text(to_sami)
    assert "$" not in inbox.text(to_sami) and "$" not in inbox.html(to_sami)


def test_a_move_to_custom_times_and_without_javascript_redirects(app, desk, me, rex, walk, sami):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    bad = move(desk, visit, next_month_day(4), "custom", "15:00", "14:00")
    assert bad.status_code == 422 and "The end time must be after the start time." in body(bad)
    same = move(desk, visit, next_month_day(4), "custom", "10:00", "11:00", headers={**HX, "HX-Target": "visit"})
    assert same.status_code == 422 and "The visit is at that time already." in body(same)
    response = move(desk, visit, next_month_day(4), "custom", "14:30", "15:15")
    assert response.status_code == 303 and response.headers["Location"] == f"/schedule/visits/{visit.id}"
    assert "Moved to" in body(desk.get(response.headers["Location"]))
    db.session.expire_all()
    assert local(visit.starts_at).strftime("%H:%M") == "14:30" and visit.window == "custom"
    again = move(desk, visit, next_month_day(4), "custom", "14:30", "15:15")  # a double submit
    assert again.status_code == 422 and len(events(visit, "moved")) == 1


@pytest.mark.parametrize("headers", [{}, {**HX, "HX-Target": "visit"}], ids=["page", "htmx"])
def test_a_move_onto_a_block_out_a_clash_or_the_past_is_refused(app, desk, manager, me, rex, walk, sami, headers):
    from models import BlockOut

    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    closed, busy = next_month_day(10), next_month_day(12)
    db.session.add(BlockOut(starts_on=closed, ends_on=closed, note="Holiday", created_by=manager))
    book(me.client, [rex], walk, sami, busy, time(8), time(9))
    db.session.commit()
    before = queued()
    yesterday = datetime.now(NY).date() - timedelta(days=1)
    for day, window, message in ((closed, "morning", f"{closed:%a %-d %b %Y}: we are closed: Holiday."),
                                 (busy, "morning", f"{busy:%a %-d %b %Y}: Dog walk is booked 8 AM–9 AM."),
                                 (yesterday, "morning", "that time has already passed")):
        response = move(desk, visit, day, window, headers=headers)
        text = body(response)
        assert response.status_code == 422 and message in text and ("<html" in text) == (not headers)
        assert text.index(message) > text.index('name="move-day"')  # beside the day
    db.session.expire_all()
    assert visit.day == next_month_day(4) and events(visit, "moved") == [] and queued() == before


def test_a_sitter_cannot_reassign_or_move_even_her_own_visit(app, client, me, rex, walk, sami, lee, portal):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    login_as(client, sami)
    assert reassign(client, visit, lee).status_code == 403
    assert move(client, visit, next_month_day(6), "morning").status_code == 403
    assert reassign(portal, visit, lee).status_code == 403  # nor a client
    db.session.expire_all()
    assert visit.sitter_id == sami.id and visit.day == next_month_day(4)


def test_a_manager_assigning_herself_is_not_emailed(app, desk, manager, me, rex, walk, sami, inbox):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    assert reassign(desk, visit, manager).status_code == 303
    outbox.deliver_all()
    assert inbox.to(manager.email) == [] and len(inbox.to("sami@example.com")) == 1


def test_clashes_are_warned_about_when_reassigning(app, desk, me, rex, walk, sami, lee, make):
    get_settings().travel_gap_minutes = 15
    db.session.commit()
    visit = book(me.client, [rex], walk, sami, next_month_day(4), time(10), time(11))
    elsewhere(make, walk, lee, next_month_day(4), time(11, 5), time(12))
    book(me.client, [rex], walk, lee, next_month_day(4), time(11), time(12))  # the same home: no travel, no warning
    gap = "Lee has only 5 minutes to or from Ann Lowe (Dog walk, 11:05 AM–12 PM); the travel gap is 15 minutes."
    check = reassign(desk, visit, lee, headers={**HX, "HX-Target": "reassign-clashes"}, action="check")
    text = body(check)
    assert check.status_code == 200 and "<html" not in text and 'id="reassign-clashes"' in text and gap in text
    assert text.count("<li>") == 1
    page = reassign(desk, visit, lee, action="check")  # without JavaScript: the panel, its form open
    assert "<html" in body(page) and gap in body(page) and "<details class=\"visit-change\" open>" in body(page)
    db.session.expire_all()
    assert visit.sitter_id == sami.id and events(visit, "reassigned") == []
    done = reassign(desk, visit, lee, headers={**HX, "HX-Target": "visit"})
    assert done.status_code == 200 and "Reassigned to Lee" in body(done)
    assert f"Warning: {next_month_day(4):%a}" in body(done) and gap in body(done)


def test_a_move_is_checked_for_the_sitters_clashes_before_and_after(app, desk, me, rex, walk, sami, make):
    visit = book(me.client, [rex], walk, sami, next_month_day(4))
    elsewhere(make, walk, sami, next_month_day(5), time(17), time(18))
    check = move(desk, visit, next_month_day(5), "evening", headers={**HX, "HX-Target": "move-clashes"},
                 action="check")
    assert check.status_code == 200 and "<html" not in body(check) and "the times overlap" in body(check)
    db.session.expire_all()
    assert visit.day == next_month_day(4)
    moved = move(desk, visit, next_month_day(5), "evening", headers={**HX, "HX-Target": "visit"})
    assert moved.status_code == 200 and "Warning:" in body(moved) and "the times overlap" in body(moved)
