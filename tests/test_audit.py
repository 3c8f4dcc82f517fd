"""The staff audit log: changes to a client's profile, prices, sitters, visits and money, made through the real
routes, are recorded with who, when, from and to, and shown on the profile's History tab to owners and managers."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from extensions import db
from filters import formatted as format_date
from models import AuditEvent, ClientLogin, ClientProfile, ClientStatus, Invoice, Pet, Role, utcnow
from tests.conftest import HX, login_as
from tests.test_billing import done_visit
from tests.test_visit_changes import book, move, reassign
from tests.test_visits import next_month_day


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


def _pet_form(**values):
    data = {"name": "Rex", "species": "Dog", "sex": "", "active": "y", "vaccinations-0-name": "",
            "vaccinations-0-expires_on": ""}
    data.update(values)
    return data


def test_pets_added_changed_made_inactive_and_deleted_are_recorded(app, as_manager, manager, ada):
    assert as_manager.post(f"/pets/?client_id={ada.id}", data=_pet_form(born_year="2020",
                                                                        care_notes="Pulls left")).status_code == 303
    rex = db.session.scalar(select(Pet).where(Pet.client_id == ada.id))
    assert as_manager.post(f"/pets/{rex.id}", data=_pet_form(name="Rexy", sex="Male", born_year="2020", born_month="6",
                                                             care_notes="Pulls right", weight="31.5")).status_code == 303
    # Made inactive: the form without the Active box.
    assert as_manager.post(f"/pets/{rex.id}", data={k: v for k, v in _pet_form(
        name="Rexy", sex="Male", born_year="2020", born_month="6", care_notes="Pulls right",
        weight="31.5").items() if k != "active"}).status_code == 303
    assert as_manager.post(f"/pets/?client_id={ada.id}", data=_pet_form(name="Tiny")).status_code == 303
    tiny = db.session.scalar(select(Pet).where(Pet.name == "Tiny"))
    assert as_manager.post(f"/pets/{tiny.id}/delete").status_code == 303

    pets = [e for e in events(ada.id) if e.kind == "pet"]
    recorded = {(e.subject, e.field, e.old_value, e.new_value) for e in pets}
    assert ("Rex", "created", "", "Rex") in recorded
    assert ("Rexy", "name", "Rex", "Rexy") in recorded
    assert ("Rexy", "sex", "", "Male") in recorded
    assert ("Rexy", "born", "2020", "Jun 2020") in recorded
    assert ("Rexy", "care_notes", "Pulls left", "Pulls right") in recorded
    assert ("Rexy", "weight", "", "31.5") in recorded
    assert ("Rexy", "active", "Yes", "No") in recorded
    assert ("Tiny", "created", "", "Tiny") in recorded and ("Tiny", "deleted", "Tiny", "") in recorded
    assert all(e.staff_id == manager.id and e.object_id in (rex.id, tiny.id) for e in pets)
    html = page(as_manager, ada.id)
    for words in ("Pet · Rexy: Care notes", "Pulls right", "Pet · Rexy: Active", "Pet · Tiny: Deleted"):
        assert words in html, words


def test_key_holders_are_recorded_never_the_code(app, as_manager, manager, make, ada):
    mia = make.staff(Role.SITTER, first_name="Mia", last_name="Lopez")
    assert as_manager.post(f"/clients/{ada.id}/keys", data={"key-staff_id": str(mia.id), "key-has_key": "y",
                                                            "key-notes": "Blue ring"}).status_code == 303
    assert as_manager.post(f"/clients/{ada.id}/keys", data={"key-staff_id": str(mia.id), "key-has_key": "y",
                                                            "key-knows_code": "y"}).status_code == 303
    assert as_manager.post(f"/clients/{ada.id}/lockbox", data={"lockbox_code": "4711"}).status_code == 303
    assert as_manager.post(f"/clients/{ada.id}/keys/{mia.id}/delete").status_code == 303
    keys = [(e.subject, e.field, e.old_value, e.new_value) for e in events(ada.id) if e.kind == "keys"]
    assert keys == [("Mia Lopez", "holds", "", "Key (Blue ring)"),
                    ("Mia Lopez", "holds", "Key (Blue ring)", "Key, Lockbox code"),
                    ("Mia Lopez", "holds", "Key, Lockbox code", "")]
    assert ("client", "lockbox_code", "", "(hidden)") in changes(ada.id)
    assert not [e for e in events(ada.id) if "4711" in f"{e.old_value}{e.new_value}{e.subject}"]
    html = page(as_manager, ada.id)
    assert "Key holder · Mia Lopez: Holds" in html and "4711" not in html


def test_portal_logins_added_ended_and_their_passwords_are_recorded_as_changed_only(app, as_manager, manager, ada,
                                                                                     password_hash):
    assert as_manager.post(f"/clients/{ada.id}/logins", data={"email": "partner@example.com", "first_name": "Bo",
                                                              "last_name": "Lovelace"}).status_code == 303
    login = db.session.scalar(select(ClientLogin).where(ClientLogin.email == "partner@example.com"))
    assert as_manager.post(f"/clients/logins/{login.id}/password",
                           data={"password": "another-horse-77", "confirm": "another-horse-77"}).status_code in (200, 303)
    assert as_manager.post(f"/clients/{ada.id}/logins/{login.id}/active", data={"active": "0"}).status_code == 303
    db.session.expire_all()
    secret_hash = db.session.get(ClientLogin, login.id).password_hash
    rows = [e for e in events(ada.id) if e.kind == "login"]
    recorded = [(e.subject, e.field, e.old_value, e.new_value) for e in rows]
    assert ("partner@example.com", "created", "", "Bo Lovelace") in recorded
    assert ("partner@example.com", "password", "", "(hidden)") in recorded
    assert ("partner@example.com", "active", "Yes", "No") in recorded
    assert all(e.staff_id == manager.id for e in rows)
    # Neither the hash nor a token is ever written down; a sign-in (its time, its session) records nothing.
    tokens = (secret_hash, login.session_token, login.calendar_token)
    assert not [e for e in events(ada.id) if any(t and t in f"{e.old_value}{e.new_value}" for t in tokens)]
    before = len(events(ada.id))
    assert as_manager.post(f"/clients/{ada.id}/logins/{login.id}/active", data={"active": "1"}).status_code == 303
    portal = app.test_client()
    assert portal.post("/login", data={"email": "partner@example.com", "password": "another-horse-77"}
                       ).status_code == 303
    assert portal.post("/logout").status_code in (302, 303)
    assert [(e.field, e.new_value) for e in events(ada.id)[before:]] == [("active", "Yes")]
    html = page(as_manager, ada.id)
    assert "Portal login · partner@example.com: Added" in html and "Portal login · partner@example.com: Password" in html
    assert secret_hash not in html


def test_draft_invoice_lines_and_due_dates_are_recorded(app, as_manager, manager, ada, walk):
    done_visit(ada, walk, date(2026, 10, 3))
    assert as_manager.post("/billing/run", data={"start": "2026-10-01", "end": "2026-10-31"}).status_code == 303
    invoice = db.session.scalars(select(Invoice)).one()
    assert [e for e in events(ada.id) if e.kind == "invoice"] == []  # the run makes the draft with its lines
    assert as_manager.post(f"/billing/invoices/{invoice.id}/lines", data={
        "kind": "charge", "description": "Bath after the muddy walk", "amount": "12.50"}).status_code == 303
    db.session.expire_all()
    [bath] = [line for line in invoice.lines if line.kind == "charge"]
    assert as_manager.post(f"/billing/invoices/{invoice.id}/lines/{bath.id}/remove").status_code == 303
    assert as_manager.post(f"/billing/invoices/{invoice.id}/send").status_code == 303
    db.session.expire_all()
    issued_due = invoice.due_on
    # No page edits a due date yet: a change by the system (a script, a job) is recorded as one.
    invoice.due_on = issued_due + timedelta(days=7)
    db.session.commit()

    rows = [e for e in events(ada.id) if e.kind == "invoice"]
    recorded = [(e.field, e.old_value, e.new_value) for e in rows]
    assert ("line_added", "", "Extra charge: Bath after the muddy walk, $12.50") in recorded
    assert ("line_removed", "Extra charge: Bath after the muddy walk, $12.50", "") in recorded
    assert ("due_on", format_date(issued_due), format_date(issued_due + timedelta(days=7))) in recorded
    assert [f for f, _o, _n in recorded if f == "due_on"] == ["due_on"]  # issuing gives the first: not an edit
    by = {e.field: (e.actor_kind, e.staff_id) for e in rows}
    assert by["line_added"] == by["line_removed"] == ("staff", manager.id) and by["due_on"] == ("system", None)
    html = page(as_manager, ada.id)
    assert "Line added" in html and "Bath after the muddy walk" in html and "Due date" in html


def test_the_filter_by_staff_member_covers_the_new_kinds(app, client, make, ada):
    marta = make.staff(Role.MANAGER, first_name="Marta", last_name="Lind")
    olive = make.staff(Role.OWNER, first_name="Olive", last_name="Ng")
    login_as(client, marta)
    assert client.post(f"/pets/?client_id={ada.id}", data=_pet_form(name="Biscuit")).status_code == 303
    login_as(client, olive)
    assert client.post(f"/clients/{ada.id}/keys", data={"key-staff_id": str(marta.id),
                                                        "key-has_key": "y"}).status_code == 303
    only_marta = page(client, ada.id, staff=marta.id)
    assert "Biscuit" in only_marta and "Key holder" not in only_marta
    only_olive = page(client, ada.id, staff=olive.id)
    assert "Key holder · Marta Lind" in only_olive and "Biscuit" not in only_olive


def test_a_deleted_client_takes_its_pets_and_logins_with_it_without_a_dangling_row(app, as_manager, make, password_hash):
    gone = make.client(first_name="Gone", last_name="Soon")
    db.session.add_all([Pet(client=gone, name="Ghost", species="Cat"),
                        ClientLogin(client=gone, email="gone@example.com", password_hash=password_hash)])
    db.session.commit()
    gone_id = gone.id
    assert as_manager.post(f"/clients/{gone_id}/delete").status_code == 303
    db.session.expire_all()
    assert db.session.get(ClientProfile, gone_id) is None
    kept = db.session.scalars(select(AuditEvent).where(AuditEvent.field == "deleted")).all()
    assert [(e.kind, e.client_id, e.old_value) for e in kept] == [("client", None, "Gone Soon")]
