"""The staff audit log: changes to a client's profile, prices, sitters, visits and money, made through the real
routes, are recorded with who, when, from and to, and shown on the profile's History tab to owners and managers."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from extensions import db
from models import AuditEvent, ClientStatus, Invoice, Role, utcnow
from tests.conftest import HX, login_as
from tests.test_billing import done_visit
from tests.test_visit_changes import book, move, reassign
from tests.test_visits import next_month_day


@pytest.fixture
def walk(make):
    return make.service(name="Dog walk", base_price_cents=2500)


@pytest.fixture
def ada(make):
    return make.client(first_name="Ada", last_name="Lovelace", email="ada@example.com", mobile_phone="555 0100",
                       address_line1="1 Old Road", status=ClientStatus.ACTIVE)


def _form(**values):
    data = {"first_name": "Ada", "last_name": "Lovelace", "status": "active", "emails-0-email": "ada@example.com",
            "emails-0-is_primary": "y", "mobile_phone": "555 0100", "address_line1": "1 Old Road"}
    data.update(values)
    return data


def events(client_id: int) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.client_id == client_id)
                                   .order_by(AuditEvent.id)))


def changes(client_id: int) -> set[tuple]:
    return {(e.kind, e.field, e.old_value, e.new_value) for e in events(client_id)}


def page(browser, client_id: int, **args) -> str:
    response = browser.get(f"/clients/{client_id}/history", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_managers_changes_are_recorded_with_who_when_from_and_to(app, as_manager, manager, make, ada, walk):
    sami = make.staff(Role.SITTER, first_name="Sami", last_name="Diaz")
    lee = make.staff(Role.SITTER, first_name="Lee", last_name="Park")
    assert as_manager.post(f"/clients/{ada.id}", data=_form(mobile_phone="555 0199", address_line1="2 New Street",
                                                            primary_sitter_id=str(sami.id))).status_code == 303
    assert as_manager.post(f"/clients/{ada.id}/prices", data={"service_id": walk.id, "price": "22.50",
                                                               "effective_on": "2026-06-01"}).status_code == 303
    visit = book(ada, [], walk, lee, next_month_day(10))
    assert reassign(as_manager, visit, sami).status_code == 303
    assert as_manager.post(f"/schedule/visits/{visit.id}/cancel", data={"reason": "Storm warning"}).status_code == 303
    done_visit(ada, walk, date(2026, 10, 3))
    assert as_manager.post("/billing/run", data={"start": "2026-10-01", "end": "2026-10-31"}).status_code == 303
    invoice = db.session.scalars(select(Invoice)).one()
    assert as_manager.post(f"/billing/invoices/{invoice.id}/send").status_code == 303
    assert as_manager.post(f"/billing/clients/{ada.id}/payments", data={
        "method": "cash", "amount": "10", "received_on": "2026-11-03", "allocate": "oldest"}).status_code == 303

    recorded = changes(ada.id)
    assert ("client", "mobile_phone", "555 0100", "555 0199") in recorded
    assert ("client", "address_line1", "1 Old Road", "2 New Street") in recorded
    assert ("sitters", "primary_sitter_id", "", "Sami Diaz") in recorded
    assert ("price", "price", "", "$22.50 from 1 Jun 2026") in recorded
    assert ("visit", "sitter", "Lee Park", "Sami Diaz") in recorded
    assert ("visit", "status", "Scheduled", "Cancelled: Storm warning") in recorded
    assert ("invoice", "issued", "", "$25.00") in recorded
    assert ("payment", "received", "", "$10.00") in recorded
    # The fixture made her, and the test booked her visits, outside a request: those are the system's.
    rows = [e for e in events(ada.id) if e.field not in ("created", "booked")]
    assert all(e.staff_id == manager.id and e.staff_name == manager.name and e.actor_kind == "staff" for e in rows)
    assert all(e.at is not None for e in rows)
    assert {e.subject for e in rows if e.kind == "invoice"} == {invoice.title}
    assert {e.subject for e in rows if e.kind == "price"} == {"Dog walk"}

    html = page(as_manager, ada.id)
    assert "<html" in html and "History" in html
    for words in ("Mobile phone", "555 0199", "2 New Street", "Primary sitter", "Sami Diaz", "Storm warning",
                  "Lee Park", "$22.50", "$10.00", invoice.title, manager.name):
        assert words in html, words
    # Newest first: the payment before the phone.
    assert html.index("$10.00") < html.index("555 0199")


def test_a_moved_visit_says_from_which_day_and_time_to_which(app, as_manager, make, ada, walk):
    lee = make.staff(Role.SITTER, first_name="Lee", last_name="Park")
    visit = book(ada, [], walk, lee, next_month_day(10))
    assert move(as_manager, visit, next_month_day(12), window="morning").status_code == 303
    moved = [e for e in events(ada.id) if e.kind == "visit" and e.field == "when"]
    assert len(moved) == 1
    assert "10 AM–11 AM" in moved[0].old_value and "Morning" in moved[0].new_value
    assert moved[0].old_value.split(",")[0] != moved[0].new_value.split(",")[0]


def test_the_history_is_a_fragment_for_htmx_and_filters_by_staff_member(app, client, make, ada):
    marta = make.staff(Role.MANAGER, first_name="Marta", last_name="Lind")
    olive = make.staff(Role.OWNER, first_name="Olive", last_name="Ng")
    login_as(client, marta)
    assert client.post(f"/clients/{ada.id}", data=_form(mobile_phone="555 0001")).status_code == 303
    login_as(client, olive)
    assert client.post(f"/clients/{ada.id}", data=_form(mobile_phone="555 0002", city="Salem")).status_code == 303

    everyone = page(client, ada.id)
    assert "555 0001" in everyone and "Salem" in everyone
    assert f'<option value="{marta.id}"' in everyone and f'<option value="{olive.id}"' in everyone
    only_marta = page(client, ada.id, staff=marta.id)
    assert "555 0001" in only_marta and "Salem" not in only_marta
    fragment = client.get(f"/clients/{ada.id}/history", query_string={"staff": olive.id}, headers=HX)
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in text and "Salem" in text and "555 0100" not in text
    assert fragment.headers["HX-Push-Url"] == f"/clients/{ada.id}/history?staff={olive.id}"
    everyone_again = page(client, ada.id, staff="nobody")  # a filter naming no one shows everyone
    assert "Salem" in everyone_again and "555 0100" in everyone_again
    profile = client.get(f"/clients/{ada.id}").get_data(as_text=True)
    assert f'href="/clients/{ada.id}/history"' in profile


def test_sitters_may_not_see_the_history(app, client, make, ada):
    sami = make.staff(Role.SITTER, first_name="Sami")
    ada.primary_sitter_id = sami.id
    db.session.commit()
    login_as(client, sami)
    assert client.get(f"/clients/{ada.id}/history").status_code == 403
    assert f"/clients/{ada.id}/history" not in client.get(f"/clients/{ada.id}").get_data(as_text=True)


def test_a_client_changing_my_info_is_recorded_as_that_client(app, portal, me, as_manager):
    answer = portal.post("/portal/info", data={"first_name": "Nia", "last_name": "Reyes",
                                               "emails-0-email": "nia@example.com", "emails-0-is_primary": "y",
                                               "mobile_phone": "555 0303", "city": "Lynn"})
    assert answer.status_code in (200, 303)
    rows = [e for e in events(me.client_id) if e.field in ("mobile_phone", "city")]
    assert {(e.field, e.new_value) for e in rows} == {("mobile_phone", "555 0303"), ("city", "Lynn")}
    assert all(e.actor_kind == "client" and e.login_id == me.id and e.staff_id is None for e in rows)
    assert "Nia (client)" in page(as_manager, me.client_id)


def test_saving_the_same_values_records_nothing(app, as_manager, make, ada):
    sami = make.staff(Role.SITTER, first_name="Sami")
    assert as_manager.post(f"/clients/{ada.id}", data=_form(primary_sitter_id=str(sami.id))).status_code == 303
    before = len(events(ada.id))
    for _ in range(2):
        assert as_manager.post(f"/clients/{ada.id}", data=_form(primary_sitter_id=str(sami.id))).status_code == 303
    assert len(events(ada.id)) == before


def test_system_changes_and_emails_and_blocked_sitters(app, make, ada):
    """Outside a request the actor is the system; collections (emails, blocked sitters) say from what to what."""
    lee = make.staff(Role.SITTER, first_name="Lee", last_name="Park")
    from services.clients import save_client

    save_client(ada, {**_form(), "emails": [("ada@example.com", True), ("ada@work.example", False)],
                      "blocked_sitter_ids": [lee.id]})
    db.session.commit()
    rows = {(e.field, e.old_value, e.new_value, e.actor_kind) for e in events(ada.id)}
    assert ("emails", "ada@example.com", "ada@example.com, ada@work.example", "system") in rows
    assert ("blocked_sitters", "", "Lee Park", "system") in rows
    assert "System" in [e.actor for e in events(ada.id)]


def test_the_listener_adds_one_insert_however_many_fields_change(app, as_manager, ada, count_queries):
    as_manager.get(f"/clients/{ada.id}")  # warm caches (settings, statements)
    with count_queries() as one:
        as_manager.post(f"/clients/{ada.id}", data=_form(city="Salem"))
    with count_queries() as many:
        as_manager.post(f"/clients/{ada.id}", data=_form(city="Lynn", state="MA", emergency_name="Bo",
                                                         key_notes="Under the mat", address_line2="Flat 3"))
    assert many.count == one.count
    assert len([e for e in events(ada.id) if e.field != "city"]) == 5


def test_the_history_page_takes_the_same_queries_for_5_and_60_events(app, as_manager, manager, make, ada,
                                                                      count_queries):
    staff = [manager] + [make.staff(Role.MANAGER, first_name=f"M{i}") for i in range(3)]
    start = utcnow()

    def add(first: int, last: int) -> None:
        db.session.add_all([AuditEvent(actor_kind="staff", staff_id=staff[i % 4].id, staff_name=staff[i % 4].name,
                                       client_id=ada.id, client_name=ada.name, kind="client", object_id=ada.id,
                                       field="city", old_value=f"town {i}", new_value=f"town {i + 1}",
                                       at=start - timedelta(minutes=i)) for i in range(first, last)])
        db.session.commit()

    add(0, 5)
    page(as_manager, ada.id)  # warm caches
    with count_queries() as five:
        assert "town 4" in page(as_manager, ada.id)
    add(5, 60)
    with count_queries() as sixty:
        html = page(as_manager, ada.id)
    assert "Page 1 of 2" in html and "town 49" in html and "town 59" not in html
    assert sixty.count == five.count, (five.count, sixty.count)
    last_id = staff[3].id
    with count_queries() as filtered:
        assert "town 59" in page(as_manager, ada.id, staff=last_id, page=1)
    assert filtered.count == five.count
