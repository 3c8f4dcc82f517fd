"""Visit requests: the client's calendar and request form, staff decisions, block-outs, cancelling,
the schedule and iCal feeds. Email goes to a real SMTP server on loopback."""
import threading
from types import SimpleNamespace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from extensions import db
from models import (
    BlockOut,
    ClientStatus,
    CustomPrice,
    RequestStatus,
    Role,
    Visit,
    VisitRequest,
    VisitStatus,
)
from services import outbox, visits
from services.settings import get_settings
from tests.conftest import HX, VISIT_OPTIONS, login_as, smtp_config

NY = ZoneInfo("America/New_York")


@pytest.fixture
def app_config(smtp):
    return smtp_config(smtp)


def next_month_day(n: int) -> date:
    today = datetime.now(NY).date()
    return visits.shift_month(today.replace(day=1), 1).replace(day=n)


def ask(portal, service, pets, **fields):
    data = {"services": [str(service.id)], "pets": [str(p.id) for p in pets], "mode": "range", "window": "morning",
            "action": "send"}
    data.update({k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()})
    return portal.post("/portal/requests/new", data=data)


def the_request() -> VisitRequest:
    return db.session.scalar(select(VisitRequest).order_by(VisitRequest.id.desc()))


def decide(staff_client, visit_request, approve=None, sitter=None, reason="", action="approve", prices=None):
    """Post the decision form: `approve` is the set of visit ids to keep (default: all)."""
    data = {"action": action, "reason": reason, "sitter_id": str(sitter.id if sitter else 0)}
    for n, visit in enumerate(sorted(visit_request.visits, key=lambda v: v.starts_at)):
        local = lambda moment: moment.replace(tzinfo=timezone.utc).astimezone(NY) if moment.tzinfo is None else moment.astimezone(NY)  # noqa: E731
        data[f"visits-{n}-visit_id"] = str(visit.id)
        if approve is None or visit.id in approve:
            data[f"visits-{n}-approve"] = "y"
        data[f"visits-{n}-start"] = local(visit.starts_at).strftime("%H:%M")
        data[f"visits-{n}-end"] = local(visit.ends_at).strftime("%H:%M")
        data[f"visits-{n}-price"] = (prices or {}).get(visit.id, f"{visit.price_cents / 100:.2f}")
    return staff_client.post(f"/requests/{visit_request.id}/decide", data=data)


def test_request_approve_scheduled_with_emails_both_ways(app, portal, me, rex, walk, client, manager, sitter, inbox):
    me.client.primary_sitter_id = sitter.id
    db.session.commit()
    first, last = next_month_day(3), next_month_day(5)
    response = ask(portal, walk, [rex], start=first, end=last, notes="Leash by the door")
    assert response.status_code == 303
    visit_request = the_request()
    assert visit_request.status == RequestStatus.PENDING and visit_request.login_id == me.id
    assert [v.day for v in visit_request.visits] == [first, first + timedelta(1), last]
    assert {v.status for v in visit_request.visits} == {VisitStatus.REQUESTED}
    assert all(v.starts_at.astimezone(NY).time() == time(8) if v.starts_at.tzinfo else True for v in visit_request.visits)

    calendar = portal.get(f"/portal/calendar?month={first:%Y-%m}").get_data(as_text=True)
    assert calendar.count("state-requested\" href") == 3

    outbox.deliver_all()
    [to_business] = inbox.to("hello@example.com")
    assert "Visit request from Nia Reyes (3 visits)" in to_business["Subject"]
    assert "$75.00" in inbox.text(to_business) and f"/requests/{visit_request.id}" in inbox.text(to_business)
    inbox.clear()

    login_as(client, manager)
    form = client.get(f"/requests/{visit_request.id}").get_data(as_text=True)
    assert f'<option selected value="{sitter.id}">' in form and "(primary)" in form
    response = decide(client, visit_request, sitter=sitter)
    assert response.status_code == 303
    db.session.expire_all()
    visit_request = the_request()
    assert visit_request.status == RequestStatus.APPROVED and visit_request.decided_by_id == manager.id
    assert {v.status for v in visit_request.visits} == {VisitStatus.SCHEDULED}
    assert {v.sitter_id for v in visit_request.visits} == {sitter.id}

    calendar = portal.get(f"/portal/calendar?month={first:%Y-%m}").get_data(as_text=True)
    assert calendar.count("state-scheduled\" href") == 3 and "state-requested\" href" not in calendar
    assert "Sami" in calendar
    outbox.deliver_all()
    [to_client] = inbox.to("nia@example.com")
    assert "your visits are booked" in to_client["Subject"]
    assert first.strftime("%a %-d %b %Y") in inbox.text(to_client) and "with Sami" in inbox.text(to_client)


def test_decline_with_reason_tells_the_client(app, portal, me, rex, walk, client, manager, inbox):
    ask(portal, walk, [rex], start=next_month_day(8), end=next_month_day(8))
    visit_request = the_request()
    login_as(client, manager)
    refused = decide(client, visit_request, action="decline")
    assert refused.status_code == 422 and "Say why you decline" in refused.get_data(as_text=True)
    assert the_request().status == RequestStatus.PENDING
    inbox.clear()
    assert decide(client, visit_request, action="decline", reason="Fully booked that week").status_code == 303
    db.session.expire_all()
    visit_request = the_request()
    assert visit_request.status == RequestStatus.DECLINED
    assert [v.status for v in visit_request.visits] == [VisitStatus.DECLINED]
    outbox.deliver_all()
    [message] = inbox.to("nia@example.com")
    assert "we cannot take your visit request" in message["Subject"]
    assert "Fully booked that week" in inbox.text(message)
    page = portal.get(f"/portal/calendar?month={next_month_day(8):%Y-%m}").get_data(as_text=True)
    assert "state-declined\" href" in page


def test_partial_approval_with_adjusted_time_and_price(app, portal, me, rex, walk, client, manager, sitter, inbox):
    ask(portal, walk, [rex], start=next_month_day(10), end=next_month_day(12))
    visit_request = the_request()
    keep = {visit_request.visits[0].id, visit_request.visits[2].id}
    login_as(client, manager)
    data_price = {visit_request.visits[0].id: "30"}
    response = decide(client, visit_request, approve=keep, sitter=sitter, reason="Sami is off that day",
                      prices=data_price)
    assert response.status_code == 303
    db.session.expire_all()
    visit_request = the_request()
    assert visit_request.status == RequestStatus.PARTIAL
    assert [v.status for v in visit_request.visits] == [VisitStatus.SCHEDULED, VisitStatus.DECLINED, VisitStatus.SCHEDULED]
    assert visit_request.visits[0].price_cents == 3000 and visit_request.visits[2].price_cents == 2500
    assert visit_request.visits[1].reason == "Sami is off that day"
    outbox.deliver_all()
    [message] = inbox.to("nia@example.com")
    assert "some of your visits are booked" in message["Subject"]


def test_changed_times_must_end_after_start_and_blocked_sitter_cannot_be_chosen(app, portal, me, rex, walk, client,
                                                                                 manager, make):
    blocked = make.staff(Role.SITTER, first_name="Bo")
    me.client.blocked_sitters = [blocked]
    db.session.commit()
    ask(portal, walk, [rex], start=next_month_day(14), end=next_month_day(14))
    visit_request = the_request()
    login_as(client, manager)
    form = client.get(f"/requests/{visit_request.id}").get_data(as_text=True)
    assert "Bo Member" not in form
    refused = decide(client, visit_request, sitter=blocked)
    assert refused.status_code == 422 and "Bo cannot be assigned" in refused.get_data(as_text=True)
    assert the_request().status == RequestStatus.PENDING


def test_racing_decisions_on_one_request_have_one_winner(app, portal, me, rex, walk, make):
    ask(portal, walk, [rex], start=next_month_day(16), end=next_month_day(17))
    request_id = the_request().id
    managers = [make.staff(Role.MANAGER) for _ in range(6)]
    manager_ids = [m.id for m in managers]
    barrier = threading.Barrier(len(managers))
    outcomes = []

    def attempt(staff_id, n):
        with app.app_context():
            try:
                from models import StaffUser

                staff = db.session.get(StaffUser, staff_id)
                visit_request = visits.load_request(request_id, staff)
                approvals = [visits.Approval(v.id, n % 2 == 0) for v in visit_request.visits]
                barrier.wait()
                visits.decide_request(visit_request, staff, approvals, staff, "Not this time")
                db.session.commit()
                outcomes.append("won")
            except visits.AlreadyDecided:
                outcomes.append("lost")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(staff_id, n)) for n, staff_id in enumerate(manager_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["lost"] * 5 + ["won"], outcomes
    db.session.expire_all()
    visit_request = the_request()
    assert visit_request.status in (RequestStatus.APPROVED, RequestStatus.DECLINED)
    expected = VisitStatus.SCHEDULED if visit_request.status == RequestStatus.APPROVED else VisitStatus.DECLINED
    assert {v.status for v in visit_request.visits} == {expected}


def test_the_loser_of_a_decision_is_told_with_409(app, portal, me, rex, walk, client, manager, sitter):
    ask(portal, walk, [rex], start=next_month_day(18), end=next_month_day(18))
    visit_request = the_request()
    login_as(client, manager)
    assert decide(client, visit_request, sitter=sitter).status_code == 303
    late = decide(client, visit_request, action="decline", reason="no")
    assert late.status_code == 409 and "already decided" in late.get_data(as_text=True)
    db.session.expire_all()
    assert the_request().status == RequestStatus.APPROVED


def test_block_out_refuses_requests_naming_the_days(app, portal, me, rex, walk, manager):
    closed = next_month_day(20)
    db.session.add(BlockOut(starts_on=closed, ends_on=closed + timedelta(days=1), note="Holiday", created_by=manager))
    db.session.commit()
    response = ask(portal, walk, [rex], start=closed - timedelta(days=1), end=closed + timedelta(days=2))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"{closed:%a %-d %b %Y}: we are closed: Holiday." in body
    assert f"{closed + timedelta(days=1):%a %-d %b %Y}: we are closed" in body
    assert db.session.scalar(select(db.func.count(Visit.id))) == 0
    page = portal.get(f"/portal/calendar?month={closed:%Y-%m}").get_data(as_text=True)
    assert '<p class="closed-tag"><span class="visually-hidden">Closed: </span>Holiday</p>' in page


def test_block_out_over_open_visits_lists_them_and_notifies_clients(app, portal, me, rex, walk, client, manager, inbox):
    day = next_month_day(22)
    ask(portal, walk, [rex], start=day, end=day)
    inbox.clear()
    login_as(client, manager)
    response = client.post("/schedule/blockouts", data={"starts_on": day.isoformat(), "ends_on": "",
                                                        "note": "Staff training"}, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "1 open visit falls inside it" in body and "Nia Reyes" in body
    outbox.deliver_all()
    [message] = inbox.to("nia@example.com")
    assert "closed on some of your visit days" in message["Subject"] and "Staff training" in inbox.text(message)
    bad = client.post("/schedule/blockouts", data={"starts_on": day.isoformat(),
                                                   "ends_on": (day - timedelta(days=2)).isoformat()})
    assert bad.status_code == 422 and "The last day must be on or after the first day." in bad.get_data(as_text=True)


def test_a_block_out_already_covered_is_refused_and_without_htmx_the_form_redirects(app, portal, me, rex, walk,
                                                                                     client, manager):
    day = next_month_day(22)
    ask(portal, walk, [rex], start=day, end=day)
    login_as(client, manager)
    added = client.post("/schedule/blockouts", data={"starts_on": (day - timedelta(days=1)).isoformat(),
                                                     "ends_on": (day + timedelta(days=1)).isoformat(), "note": "Away"})
    blockout = db.session.scalar(select(BlockOut))
    assert added.status_code == 303 and added.headers["Location"] == f"/schedule/blockouts?shown={blockout.id}"
    page = client.get(added.headers["Location"]).get_data(as_text=True)
    assert "1 open visit falls inside it" in page and "Nia Reyes" in page and "<html" in page
    for first, last in ((day - timedelta(days=1), day + timedelta(days=1)), (day, day), (day, day + timedelta(days=1))):
        for headers in ({}, HX):
            again = client.post("/schedule/blockouts", data={"starts_on": first.isoformat(), "ends_on": last.isoformat()},
                                headers=headers)
            body = again.get_data(as_text=True)
            assert again.status_code == 422 and "These days are already closed" in body
            assert body.index("These days are already closed") > body.index('name="starts_on"')
    assert db.session.scalar(select(db.func.count(BlockOut.id))) == 1
    wider = client.post("/schedule/blockouts", data={"starts_on": day.isoformat(),
                                                     "ends_on": (day + timedelta(days=3)).isoformat()})
    assert wider.status_code == 303 and db.session.scalar(select(db.func.count(BlockOut.id))) == 2


def test_an_identical_second_request_is_refused_and_checked_under_a_lock_on_the_client(app, portal, me, rex, walk):
    from sqlalchemy import event
    from sqlalchemy.dialects import postgresql

    locks = []

    def spy(state):
        sql = str(state.statement.compile(dialect=postgresql.dialect()))
        if "FOR UPDATE" in sql:
            locks.append(sql)

    day = next_month_day(7)
    event.listen(db.session, "do_orm_execute", spy)
    try:
        first = ask(portal, walk, [rex], start=day, end=day)
        second = ask(portal, walk, [rex], start=day, end=day)  # a double click, or the same form in a second tab
    finally:
        event.remove(db.session, "do_orm_execute", spy)
    assert first.status_code == 303 and second.status_code == 422
    assert "Dog walk is already requested" in second.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(VisitRequest.id))) == 1
    assert len(locks) == 2 and all("FROM client_profile" in sql for sql in locks)


def test_clash_with_a_booked_visit_and_past_times_are_refused(app, portal, me, rex, walk):
    day = next_month_day(6)
    assert ask(portal, walk, [rex], start=day, end=day).status_code == 303
    again = ask(portal, walk, [rex], start=day, end=day, window="custom", start_time="10:30", end_time="11:30")
    assert again.status_code == 422
    assert f"{day:%a %-d %b %Y}: Dog walk is already requested Morning, 8 AM–11 AM." in again.get_data(as_text=True)
    later = ask(portal, walk, [rex], start=day, end=day, window="evening")
    assert later.status_code == 303
    yesterday = datetime.now(NY).date() - timedelta(days=1)
    past = ask(portal, walk, [rex], start=yesterday, end=yesterday)
    assert past.status_code == 422 and "that time has already passed" in past.get_data(as_text=True)


def test_weekly_repeat_keeps_local_time_across_a_dst_change(app, me, rex, walk):
    # US daylight saving starts on Sunday 14 March 2027: 8 AM is 13:00 UTC before and 12:00 UTC after.
    days = visits.dates_for("weekly", date(2027, 3, 8), date(2027, 3, 19), [], [0, 2, 4])
    assert days == [date(2027, 3, d) for d in (8, 10, 12, 15, 17, 19)]
    plan = visits.Plan([walk], days, "morning", time(8), time(11), [rex])
    visit_request = visits.request_visits(me.client, me, plan)
    db.session.commit()
    starts = [v.starts_at.replace(tzinfo=timezone.utc) if v.starts_at.tzinfo is None else v.starts_at
              for v in visit_request.visits]
    assert [s.astimezone(timezone.utc).hour for s in starts] == [13, 13, 13, 12, 12, 12]
    assert {s.astimezone(NY).strftime("%H:%M") for s in starts} == {"08:00"}


def test_weekly_repeat_from_the_form(app, portal, me, rex, walk):
    response = ask(portal, walk, [rex], mode="weekly", start=date(2027, 3, 8), end=date(2027, 3, 19),
                   weekdays=["0", "2", "4"])
    assert response.status_code == 303
    assert [v.day.day for v in the_request().visits] == [8, 10, 12, 15, 17, 19]
    missing = ask(portal, walk, [rex], mode="weekly", start=date(2027, 3, 8), end=date(2027, 3, 19))
    assert missing.status_code == 422 and "Choose the days of the week." in missing.get_data(as_text=True)


def test_price_preview_follows_a_custom_price_that_changes_mid_range(app, portal, me, rex, walk, manager):
    db.session.add(CustomPrice(client=me.client, service=walk, price_cents=2000, effective_on=date(2027, 3, 10),
                               created_by=manager))
    db.session.commit()
    data = {"services": [str(walk.id)], "pets": [str(rex.id)], "mode": "range", "window": "morning",
            "start": "2027-03-08", "end": "2027-03-11"}
    fragment = portal.post("/portal/requests/preview", data=data, headers={**HX, "HX-Target": "request-preview"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body
    rows = [line for line in body.splitlines() if "<td>" in line and "Dog walk" in line]
    assert ["$25.00" in r for r in rows] == [True, True, False, False]
    assert ["$20.00" in r for r in rows] == [False, False, True, True]
    assert "Total for 4 visits" in body and "$90.00" in body
    empty = portal.post("/portal/requests/preview", data={"mode": "range"}, headers=HX).get_data(as_text=True)
    assert "to see the price" in empty


def test_prospect_becomes_active_with_its_first_priced_visit(app, portal, me, rex, make):
    me.client.status = ClientStatus.PROSPECT
    db.session.commit()
    free = make.service(name="Meet and greet", base_price_cents=0)
    ask(portal, free, [rex], start=next_month_day(2), end=next_month_day(2))
    db.session.expire_all()
    assert me.client.status == ClientStatus.PROSPECT and me.client.activated_at is None
    paid = make.service(name="Cat visit", base_price_cents=1800)
    ask(portal, paid, [rex], start=next_month_day(4), end=next_month_day(4))
    db.session.expire_all()
    assert me.client.status == ClientStatus.ACTIVE and me.client.activated_at is not None
    assert "Cat visit" in me.client.activated_reason and "requested by the client" in me.client.activated_reason


def test_staff_adding_a_priced_visit_activates_a_prospect(app, client, manager, sitter, make, inbox):
    prospect = make.client(status=ClientStatus.PROSPECT, first_name="Pia")
    pet = make.pet(prospect, name="Tom")
    walk = make.service(name="Walk", base_price_cents=2200)
    login_as(client, manager)
    form = client.get(f"/schedule/new?client={prospect.id}&day={next_month_day(9).isoformat()}")
    assert form.status_code == 200 and "Add visits for Pia" in form.get_data(as_text=True)
    response = client.post(f"/schedule/new?client={prospect.id}", data={
        "services": [str(walk.id)], "pets": [str(pet.id)], "mode": "days", "days-0": next_month_day(9).isoformat(),
        "days-1": next_month_day(11).isoformat(), "window": "midday", "sitter_id": str(sitter.id), "price": "",
        "action": "send"})
    assert response.status_code == 303
    db.session.expire_all()
    assert prospect.status == ClientStatus.ACTIVE and "added by Marta" in prospect.activated_reason
    profile = client.get(f"/clients/{prospect.id}").get_data(as_text=True)
    assert "Became Active on" in profile and "added by Marta" in profile
    assert f'href="/schedule/new?client={prospect.id}"' in profile
    added = db.session.scalars(select(Visit).where(Visit.client_id == prospect.id)).all()
    assert [v.status for v in added] == [VisitStatus.SCHEDULED] * 2 and {v.price_cents for v in added} == {2200}
    week = client.get(f"/schedule/?view=week&date={next_month_day(9).isoformat()}").get_data(as_text=True)
    assert "Pia" in week and "Tom" in week


def test_staff_cannot_add_visits_at_a_negative_price(app, client, manager, sitter, make):
    owner = make.client(first_name="Pia")
    pet = make.pet(owner, name="Tom")
    walk = make.service(name="Walk", base_price_cents=2200)
    login_as(client, manager)
    response = client.post(f"/schedule/new?client={owner.id}", data={
        "services": [str(walk.id)], "pets": [str(pet.id)], "mode": "days", "days-0": next_month_day(9).isoformat(),
        "window": "midday", "sitter_id": str(sitter.id), "price": "-5", "action": "send"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "A price cannot be negative." in body
    assert body.index("A price cannot be negative.") > body.index('name="price"')  # beside the field
    assert db.session.scalar(select(db.func.count(Visit.id))) == 0


def _scheduled_visit(me, rex, walk, sitter, starts_in: timedelta) -> Visit:
    start = datetime.now(timezone.utc).replace(microsecond=0) + starts_in
    visit = Visit(client=me.client, service=walk, sitter=sitter, day=start.astimezone(NY).date(), starts_at=start,
                  ends_at=start + timedelta(hours=1), window="custom", price_cents=2500,
                  status=VisitStatus.SCHEDULED, pets=[rex], notes="", late_cancellation=False, cancelled_by="",
                  reason="")
    db.session.add(visit)
    db.session.commit()
    return visit


def test_client_cancels_outside_the_window_and_it_is_not_late(app, portal, me, rex, walk, sitter, inbox):
    visit = _scheduled_visit(me, rex, walk, sitter, timedelta(days=3))
    panel = portal.get(f"/portal/visits/{visit.id}", headers={**HX, "HX-Target": "request-panel"}).get_data(as_text=True)
    assert "Cancel this visit" in panel and "late cancellation" not in panel
    response = portal.post(f"/portal/visits/{visit.id}/cancel", headers={**HX, "HX-Target": "calendar-view"})
    assert response.status_code == 200 and "Cancelled. We have let the team know." in response.get_data(as_text=True)
    db.session.expire_all()
    assert visit.status == VisitStatus.CANCELLED and not visit.late_cancellation and visit.cancelled_by == "client"
    outbox.deliver_all()
    [message] = inbox.to("hello@example.com")
    assert "LATE" not in message["Subject"]
    again = portal.post(f"/portal/visits/{visit.id}/cancel")
    assert again.status_code == 303
    assert "no longer open" in portal.get(again.location).get_data(as_text=True)


def test_client_cancels_inside_the_window_late_and_staff_are_told(app, portal, me, rex, walk, sitter, inbox):
    get_settings().cancellation_hours = 48
    db.session.commit()
    visit = _scheduled_visit(me, rex, walk, sitter, timedelta(hours=30))
    panel = portal.get(f"/portal/visits/{visit.id}").get_data(as_text=True)
    assert "less than 48 hours" in panel and "late cancellation" in panel
    assert portal.post(f"/portal/visits/{visit.id}/cancel").status_code == 303
    db.session.expire_all()
    assert visit.status == VisitStatus.CANCELLED and visit.late_cancellation
    outbox.deliver_all()
    [message] = inbox.to("hello@example.com")
    assert "(LATE cancellation)" in message["Subject"] and "late cancellation" in inbox.text(message).lower()


def test_staff_cancel_with_a_reason_and_the_client_is_told(app, me, rex, walk, sitter, client, manager, inbox):
    visit = _scheduled_visit(me, rex, walk, sitter, timedelta(days=2))
    login_as(client, manager)
    missing = client.post(f"/schedule/visits/{visit.id}/cancel", data={"reason": ""}, headers=HX)
    assert missing.status_code == 422 and "Say why" in missing.get_data(as_text=True)
    done = client.post(f"/schedule/visits/{visit.id}/cancel", data={"reason": "Sitter is ill"}, headers=HX)
    assert done.status_code == 200 and "<html" not in done.get_data(as_text=True)
    db.session.expire_all()
    assert visit.status == VisitStatus.CANCELLED and visit.cancelled_by == "staff" and visit.reason == "Sitter is ill"
    outbox.deliver_all()
    [message] = inbox.to("nia@example.com")
    assert "is cancelled" in message["Subject"] and "Sitter is ill" in inbox.text(message)


def test_a_client_cannot_see_or_cancel_another_clients_visits(app, portal, make, walk, sitter, password_hash):
    other = make.client(first_name="Oscar")
    pet = make.pet(other, name="Milo")
    visit = _scheduled_visit(SimpleNamespace(client=other), pet, walk, sitter, timedelta(days=5))
    assert portal.get(f"/portal/visits/{visit.id}").status_code == 404
    assert portal.post(f"/portal/visits/{visit.id}/cancel").status_code == 404
    page = portal.get(f"/portal/calendar?month={visit.day:%Y-%m}").get_data(as_text=True)
    assert "Milo" not in page
    db.session.expire_all()
    assert visit.status == VisitStatus.SCHEDULED


def test_request_pets_must_be_the_clients_own(app, portal, me, rex, walk, make):
    stranger = make.pet(make.client(), name="Stray")
    response = ask(portal, walk, [stranger], start=next_month_day(3), end=next_month_day(3))
    assert response.status_code == 422 and "Choose which pets the visits are for." in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(Visit.id))) == 0


def test_ical_feeds_parse_back_in_local_time_and_reset(app, portal, me, rex, walk, sitter, make):
    plan = visits.Plan([walk], [date(2027, 3, 12), date(2027, 3, 15)], "morning", time(8), time(11), [rex])
    visit_request = visits.request_visits(me.client, me, plan)
    db.session.commit()
    visits.decide_request(visit_request, make.staff(Role.MANAGER),
                          [visits.Approval(v.id, True) for v in visit_request.visits], sitter, "")
    db.session.commit()
    assert f"http://localhost/feeds/{me.calendar_token}.ics" in portal.get("/portal/calendar").get_data(as_text=True)
    feed = app.test_client().get(f"/feeds/{me.calendar_token}.ics")
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    events = Calendar.from_ical(feed.data).walk("VEVENT")
    assert len(events) == 2
    starts = [e.decoded("dtstart") for e in events]
    assert [s.strftime("%H:%M") for s in starts] == ["08:00", "08:00"]
    assert [s.astimezone(timezone.utc).hour for s in starts] == [13, 12]
    assert str(events[0]["summary"]) == "Dog walk (Rex)" and "Sitter: Sami" in str(events[0]["description"])
    assert "America/New_York" in feed.get_data(as_text=True)

    sitter_feed = Calendar.from_ical(app.test_client().get(f"/feeds/{sitter.calendar_token}.ics").data)
    assert [str(e["summary"]) for e in sitter_feed.walk("VEVENT")] == ["Nia Reyes: Dog walk (Rex)"] * 2

    old = me.calendar_token
    assert portal.post("/portal/calendar/feed").status_code == 303
    db.session.expire_all()
    assert me.calendar_token != old
    assert app.test_client().get(f"/feeds/{old}.ics").status_code == 404
    assert app.test_client().get(f"/feeds/{me.calendar_token}.ics").status_code == 200


def test_calendar_navigation_fragment_and_page(app, portal, rex):
    month = next_month_day(1)
    fragment = portal.get(f"/portal/calendar?month={month:%Y-%m}", headers={**HX, "HX-Target": "calendar"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and month.strftime("%B %Y") in body
    assert fragment.headers["HX-Push-Url"] if "HX-Push-Url" in fragment.headers else True
    page = portal.get(f"/portal/calendar?month={month:%Y-%m}").get_data(as_text=True)
    assert "<html" in page and month.strftime("%B %Y") in page
    assert "Request visits" in page
    form = portal.get(f"/portal/requests/new?day={month.isoformat()}", headers={**HX, "HX-Target": "request-panel"})
    assert "<html" not in form.get_data(as_text=True) and f'value="{month.isoformat()}"' in form.get_data(as_text=True)
    assert "<html" in portal.get(f"/portal/requests/new?day={month.isoformat()}").get_data(as_text=True)


def test_request_pages_refuse_until_onboarding_is_complete(app, portal, me, walk):
    for url in ("/portal/requests/new", "/portal/requests/new?day=2027-01-04"):
        response = portal.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 403 and "Almost there" in body and "My Pets" in body
        assert 'href="/portal/"' in body
    assert portal.post("/portal/requests/new", data={"services": [str(walk.id)]}).status_code == 403
    assert portal.post("/portal/requests/preview", data={}).status_code == 403
    calendar = portal.get("/portal/calendar").get_data(as_text=True)
    assert "You can request visits once" in calendar and 'href="/portal/requests/new?day' not in calendar


@pytest.mark.parametrize("switch, urls", [
    ("portal_requests", ["/portal/requests/new"]),
    ("portal_calendar", ["/portal/calendar", "/portal/calendar?month=2027-01"]),
])
def test_request_and_calendar_switches(app, portal, rex, switch, urls):
    nav_label = {"portal_requests": ">Request visits</a></li>", "portal_calendar": ">Calendar</a></li>"}[switch]
    assert nav_label in portal.get("/portal/").get_data(as_text=True)
    for url in urls:
        assert portal.get(url).status_code == 200
    setattr(get_settings(), switch, False)
    db.session.commit()
    assert nav_label not in portal.get("/portal/").get_data(as_text=True)
    for url in urls:
        assert portal.get(url).status_code == 404


def test_schedule_views_and_sitter_filter(app, client, me, rex, walk, sitter, make, manager):
    other_sitter = make.staff(Role.SITTER, first_name="Otto")
    # 10:00 and 13:00 in New York two days from now: the same day whatever the hour the test runs.
    ten = datetime.combine(datetime.now(NY).date() + timedelta(days=2), time(10), NY)
    mine = _scheduled_visit(me, rex, walk, sitter, ten - datetime.now(timezone.utc))
    theirs = _scheduled_visit(me, rex, walk, other_sitter, ten + timedelta(hours=3) - datetime.now(timezone.utc))
    assert mine.day == theirs.day
    login_as(client, manager)
    for view in ("month", "week", "day"):
        page = client.get(f"/schedule/?view={view}&date={mine.day.isoformat()}")
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert f"/schedule/visits/{mine.id}" in body and f"/schedule/visits/{theirs.id}" in body
    filtered = client.get(f"/schedule/?view=week&date={mine.day.isoformat()}&sitter={sitter.id}",
                          headers={**HX, "HX-Target": "schedule"}).get_data(as_text=True)
    assert "<html" not in filtered and f"/schedule/visits/{mine.id}" in filtered
    assert f"/schedule/visits/{theirs.id}" not in filtered
    login_as(client, sitter)
    for url in (f"/schedule/?view=week&date={mine.day.isoformat()}",
                f"/schedule/?view=week&date={mine.day.isoformat()}&sitter=0",
                f"/schedule/?view=week&date={mine.day.isoformat()}&sitter={other_sitter.id}"):
        own = client.get(url).get_data(as_text=True)
        assert f"/schedule/visits/{mine.id}" in own and f"/schedule/visits/{theirs.id}" not in own
    assert client.get(f"/schedule/visits/{mine.id}").status_code == 200
    assert client.get(f"/schedule/visits/{theirs.id}").status_code == 404
    assert client.post(f"/schedule/visits/{mine.id}/cancel", data={"reason": "x"}).status_code == 403
    assert client.get("/requests/").status_code == 403


def test_request_queue_lists_newest_first_with_key_notice_and_filters(app, portal, me, rex, walk, client, manager):
    me.client.uses_keys, me.client.key_notes = True, "Lockbox 4321"
    db.session.commit()
    ask(portal, walk, [rex], start=next_month_day(3), end=next_month_day(3))
    ask(portal, walk, [rex], start=next_month_day(7), end=next_month_day(8))
    login_as(client, manager)
    queue = client.get("/requests/")
    assert queue.status_code == 200
    body = queue.get_data(as_text=True)
    assert body.index(next_month_day(7).strftime("%a %-d %b")) < body.index(next_month_day(3).strftime("%a %-d %b"))
    assert "Lockbox 4321" in body and "Rex" in body and "$50.00" in body and "$25.00" in body
    declined = client.get("/requests/?status=declined", headers={**HX, "HX-Target": "request-list"})
    assert "<html" not in declined.get_data(as_text=True) and "No requests match." in declined.get_data(as_text=True)
    found = client.get("/requests/?status=all&q=rex").get_data(as_text=True)
    assert found.count('class="panel request-card"') == 2
    assert client.get("/requests/?q=nobody").get_data(as_text=True).count('class="panel request-card"') == 0


def test_calendar_query_count_does_not_grow_with_visits(app, portal, me, rex, walk, sitter, count_queries):
    month = next_month_day(1)
    plan = visits.Plan([walk], [next_month_day(2)], "morning", time(8), time(11), [rex])
    visits.request_visits(me.client, me, plan)
    db.session.commit()
    portal.get(f"/portal/calendar?month={month:%Y-%m}")  # creates the settings row
    db.session.expire_all()  # each request starts from an empty identity map, as in production
    with count_queries() as few:
        assert portal.get(f"/portal/calendar?month={month:%Y-%m}").status_code == 200
    plan = visits.Plan([walk], [next_month_day(d) for d in range(3, 28)], "evening", time(17), time(20), [rex])
    visits.request_visits(me.client, me, plan)
    db.session.commit()
    db.session.expire_all()
    with count_queries() as many:
        body = portal.get(f"/portal/calendar?month={month:%Y-%m}").get_data(as_text=True)
    assert body.count("state-requested\" href") == 26
    assert many.count == few.count


def test_the_cancellation_window_is_a_site_option(app, as_manager):
    page = as_manager.get("/settings/").get_data(as_text=True)
    assert "Late cancellation window, in hours" in page and 'value="24"' in page
    bad = as_manager.post("/settings/", data={"cancellation_hours": "-3"}, headers=HX)
    assert bad.status_code == 422 and "Enter a number of hours from 0 to 720." in bad.get_data(as_text=True)
    assert get_settings().cancellation_hours == 24
    assert as_manager.post("/settings/", data={"cancellation_hours": "48", "portal_calendar": "y",
                                                **VISIT_OPTIONS}).status_code == 303
    db.session.expire_all()
    assert get_settings().cancellation_hours == 48


def test_staff_reset_a_client_logins_feed_address(app, me, as_manager):
    old = me.calendar_token
    response = as_manager.post(f"/clients/{me.client_id}/logins/{me.id}/feed", headers=HX)
    assert response.status_code == 200 and "new calendar feed address" in response.get_data(as_text=True)
    db.session.expire_all()
    assert me.calendar_token != old and len(me.calendar_token) >= 40
    assert app.test_client().get(f"/feeds/{old}.ics").status_code == 404


def test_the_dashboard_lists_the_next_visits(app, portal, me, rex, walk, sitter):
    first = portal.get("/portal/").get_data(as_text=True)  # once: the finished checklist, then the dashboard
    assert "You're all set" in first and "No visits coming up." not in first
    assert "No visits coming up." in portal.get("/portal/").get_data(as_text=True)
    soon = _scheduled_visit(me, rex, walk, sitter, timedelta(days=1))
    _scheduled_visit(me, rex, walk, sitter, timedelta(hours=-5))  # over: not listed
    body = portal.get("/portal/").get_data(as_text=True)
    assert f"/portal/visits/{soon.id}" in body and body.count('class="visit state-') == 1


def test_without_javascript_the_form_adds_day_slots_and_previews_as_a_page(app, portal, rex, walk):
    data = {"services": [str(walk.id)], "pets": [str(rex.id)], "mode": "days", "window": "morning",
            "days-0": next_month_day(3).isoformat(), "days-1": next_month_day(9).isoformat()}
    more = portal.post("/portal/requests/new", data={**data, "action": "add_day"})
    body = more.get_data(as_text=True)
    assert more.status_code == 200 and "<html" in body and 'id="days-3"' in body
    assert f'value="{next_month_day(9).isoformat()}"' in body
    priced = portal.post("/portal/requests/new", data={**data, "action": "preview"}).get_data(as_text=True)
    assert "Total for 2 visits" in priced and "$50.00" in priced
    assert db.session.scalar(select(db.func.count(Visit.id))) == 0
    empty = portal.post("/portal/requests/new", data={"mode": "days", "window": "morning", "action": "send"})
    body = empty.get_data(as_text=True)
    assert empty.status_code == 422
    for message in ("Choose at least one service.", "Choose which pets the visits are for.", "Choose at least one day."):
        assert message in body


def test_a_request_whose_visits_are_all_cancelled_is_cancelled(app, portal, me, rex, walk, client, manager):
    ask(portal, walk, [rex], start=next_month_day(12), end=next_month_day(13))
    visit_request = the_request()
    first, second = visit_request.visits
    assert portal.post(f"/portal/visits/{first.id}/cancel").status_code == 303
    db.session.expire_all()
    assert the_request().status == RequestStatus.PENDING and first.late_cancellation is False
    assert portal.post(f"/portal/visits/{second.id}/cancel").status_code == 303
    db.session.expire_all()
    assert the_request().status == RequestStatus.CANCELLED
    login_as(client, manager)
    assert "No requests are waiting." in client.get("/requests/").get_data(as_text=True)
    page = client.get(f"/requests/{visit_request.id}").get_data(as_text=True)
    assert "Cancelled" in page and "Approve ticked visits" not in page
    refused = decide(client, the_request(), action="decline", reason="x")
    assert refused.status_code == 409


def test_approving_at_a_price_activates_a_prospect_and_answers_htmx_with_the_fragment(app, portal, me, rex, make,
                                                                                     client, manager, sitter):
    me.client.status = ClientStatus.PROSPECT
    db.session.commit()
    greet = make.service(name="Meet and greet", base_price_cents=0)
    ask(portal, greet, [rex], start=next_month_day(5), end=next_month_day(5))
    visit_request = the_request()
    db.session.expire_all()
    assert me.client.status == ClientStatus.PROSPECT
    login_as(client, manager)
    page = client.get(f"/requests/{visit_request.id}")
    fragment = client.get(f"/requests/{visit_request.id}", headers={**HX, "HX-Target": "request"})
    assert "<html" in page.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    data = {"action": "approve", "reason": "", "sitter_id": str(sitter.id), "visits-0-visit_id": str(visit_request.visits[0].id),
            "visits-0-approve": "y", "visits-0-start": "09:00", "visits-0-end": "09:45", "visits-0-price": "15"}
    response = client.post(f"/requests/{visit_request.id}/decide", data=data, headers={**HX, "HX-Target": "request"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "Approved: the visits are on the schedule" in body
    db.session.expire_all()
    [visit] = the_request().visits
    assert visit.price_cents == 1500 and visit.window == "custom"
    assert visit.starts_at.replace(tzinfo=timezone.utc).astimezone(NY).strftime("%H:%M") == "09:00"
    assert me.client.status == ClientStatus.ACTIVE and "approved by Marta" in me.client.activated_reason


def test_bad_times_and_prices_in_a_decision_stay_beside_their_row(app, portal, me, rex, walk, client, manager, sitter):
    ask(portal, walk, [rex], start=next_month_day(6), end=next_month_day(6))
    visit_request = the_request()
    visit_id = visit_request.visits[0].id
    login_as(client, manager)
    data = {"action": "approve", "sitter_id": str(sitter.id), "visits-0-visit_id": str(visit_id),
            "visits-0-approve": "y", "visits-0-start": "10:00", "visits-0-end": "09:00", "visits-0-price": "ten"}
    response = client.post(f"/requests/{visit_request.id}/decide", data=data, headers={**HX, "HX-Target": "request"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="visits-0-price-error"' in body
    assert "Enter an amount such as 25 or 25.50." in body
    data["visits-0-price"] = "20"
    response = client.post(f"/requests/{visit_request.id}/decide", data=data, headers={**HX, "HX-Target": "request"})
    assert response.status_code == 422 and "The end must be after the start." in response.get_data(as_text=True)
    db.session.expire_all()
    assert the_request().status == RequestStatus.PENDING and the_request().visits[0].price_cents == 2500
