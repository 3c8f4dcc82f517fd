"""Changing booked visits: sitters told of the visits assigned to them and of cancellations. Email goes to a
real SMTP server on loopback."""
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
