"""What broke when Pawtal was tried as a new user, a hostile user and a business in its first week."""
from __future__ import annotations

import io
import os
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from models import (
    ClientProfile, Document, Pet, Photo, Policy, PolicyAgreement, Role, Visit,
    VisitStatus,
)
from services.forms import FieldSpec, save_form
from services.invites import send_invitations
from services.pets import photo_path, store_photo
from tests.conftest import HX, PASSWORD, login_as
from tests.test_pets import png_bytes
from tests.test_visits import _scheduled_visit, next_month_day


def _body(response) -> str:
    return response.get_data(as_text=True)


def test_sitters_see_no_price_in_the_visit_panel(app, client, me, rex, walk, sitter, manager):
    visit = _scheduled_visit(me, rex, walk, sitter, timedelta(days=2))
    login_as(client, sitter)
    panel = _body(client.get(f"/schedule/visits/{visit.id}"))
    assert "Price" not in panel and "$25.00" not in panel and "Open the request" not in panel
    login_as(client, manager)
    assert "$25.00" in _body(client.get(f"/schedule/visits/{visit.id}"))


def test_the_card_page_promises_nothing_untrue(app, portal, localstripe):
    from tests.conftest import stripe_config

    app.config.update(stripe_config(localstripe))
    page = _body(portal.get("/portal/card"))
    assert "charges it only for visits you book" not in page and "Nothing is charged" in page


def test_the_portal_home_has_a_heading_while_getting_started(portal, me):
    page = _body(portal.get("/portal/"))
    assert "<h1>" in page and "Welcome, Nia" in page and "Getting started" in page


def test_the_last_step_shows_the_finished_checklist_once_then_the_dashboard(portal, me):
    done = portal.post("/portal/pets/new", data={"name": "Rex", "species": "dog", "sex": "", "widget": "1"},
                       headers={**HX, "HX-Target": "onboarding"})
    assert done.status_code == 200 and "You're all set" in _body(done) and "Request visits" in _body(done)
    home = _body(portal.get("/portal/"))
    assert "You're all set" not in home and "No visits coming up." in home
    assert db.session.scalar(select(Pet.species)) == "Dog"  # typed "dog": one spelling per species


def test_a_pet_opened_from_the_checklist_returns_to_it(portal, me, make):
    pet = make.pet(me.client, name="Rex", breed="")
    from services.settings import update_settings

    update_settings(True, False, {}, {"breed": "required"})
    db.session.commit()
    home = _body(portal.get("/portal/"))
    assert f"/portal/pets/{pet.id}/edit?next=/portal/" in home
    form = _body(portal.get(f"/portal/pets/{pet.id}/edit?next=/portal/"))
    assert f'action="/portal/pets/{pet.id}/edit?next=/portal/"' in form
    saved = portal.post(f"/portal/pets/{pet.id}/edit?next=/portal/", data={"name": "Rex", "species": "Dog",
                                                                        "sex": "", "breed": "Beagle"})
    assert saved.status_code == 303 and saved.headers["Location"] == "/portal/"
    elsewhere = portal.post(f"/portal/pets/{pet.id}/edit?next=https://evil.example/", data={
        "name": "Rex", "species": "Dog", "sex": "", "breed": "Beagle"})
    assert elsewhere.headers["Location"] == "/portal/pets"


def test_calendar_and_schedule_links_read_as_sentences(portal, me, rex, walk, as_manager):
    month = next_month_day(1).replace(day=1)
    page = _body(portal.get(f"/portal/calendar?month={month:%Y-%m}"))
    names = re.findall(r'aria-label="([^"]*), request visits"', page)
    assert names and f"15 {month:%b %Y}" in " ".join(names) and len(names) == len(set(names))  # one name each
    assert re.search(r'aria-label="Next month, \w+ \d{4}"', page) and "Dec , next month" not in page
    week = _body(as_manager.get("/schedule/?view=week"))
    assert ">Previous week<" in week and ">This week<" in week and ">Next week<" in week
    assert "Today week" not in week and "Next › week" not in week


def test_the_schedule_counts_only_visits_that_take_place(me, rex, walk, sitter, as_manager):
    kept = _scheduled_visit(me, rex, walk, sitter, timedelta(days=2))
    gone = _scheduled_visit(me, rex, walk, sitter, timedelta(days=2, hours=3))
    gone.status = VisitStatus.CANCELLED
    db.session.commit()
    page = _body(as_manager.get(f"/schedule/?view=week&date={kept.day.isoformat()}"))
    assert "1 visit<" in page


def test_a_previous_photo_is_offered_by_what_it_shows(as_manager, make):
    client = make.client()
    pet = make.pet(client, name="Biscuit")
    pet.photo = store_photo(client, _upload())
    db.session.commit()
    form = _body(as_manager.get(f"/pets/{pet.id}/edit"))
    assert "Biscuit&#39;s photo, added" in form and "Photo " + str(pet.photo_id) not in form


def test_keep_as_is_is_offered_only_for_a_pet_with_a_photo(as_manager, make):
    client = make.client()
    biscuit = make.pet(client, name="Biscuit")
    biscuit.photo = store_photo(client, _upload())
    plain = make.pet(client, name="Plain")
    db.session.commit()
    new = _body(as_manager.get(f"/pets/new?client_id={client.id}"))
    assert "Biscuit&#39;s photo, added" in new and "Keep as is" not in new and "No photo" in new
    assert "Keep as is" not in _body(as_manager.get(f"/pets/{plain.id}/edit"))
    assert "Keep as is" in _body(as_manager.get(f"/pets/{biscuit.id}/edit"))
    added = as_manager.post(f"/pets/?client_id={client.id}", data={"name": "Nova", "species": "cat", "sex": "",
                                                                  "active": "y", "photo_id": ""})
    assert added.status_code == 303 and db.session.scalar(select(Pet.photo_id).where(Pet.name == "Nova")) is None


def _upload():
    from werkzeug.datastructures import FileStorage

    return FileStorage(io.BytesIO(png_bytes()), "p.png")


def test_new_pet_starts_by_finding_the_owner(as_manager, make):
    owner = make.client(first_name="Ada", last_name="Lovelace")
    assert as_manager.get("/pets/").status_code == 200 and 'href="/pets/new"' in _body(as_manager.get("/pets/"))
    picker = as_manager.get("/pets/new")
    assert picker.status_code == 200 and "Find the client" in _body(picker)
    found = as_manager.get("/pets/new?q=lovel", headers={**HX, "HX-Target": "new-pet"})
    assert "<html" not in _body(found) and f'href="/pets/new?client_id={owner.id}"' in _body(found)
    assert "New pet for Ada Lovelace" in _body(as_manager.get(f"/pets/new?client_id={owner.id}"))
    added = as_manager.post(f"/pets/?client_id={owner.id}", data={"name": "Nova", "species": "cat", "sex": "", "active": "y"})
    assert added.status_code == 303 and db.session.scalar(select(Pet.species).where(Pet.name == "Nova")) == "Cat"


def test_sitters_get_no_selection_they_cannot_use(client, sitter, make):
    make.client(primary_sitter_id=sitter.id)
    login_as(client, sitter)
    page = _body(client.get("/clients/"))
    assert 'name="ids"' not in page and "select-page" not in page and "selected-count" not in page


def test_registration_from_an_invitation_fills_in_who_it_was_sent_to(app, client, make):
    profile = make.client(first_name="Grace", last_name="Hopper", email="grace@example.com")
    [invitation] = send_invitations([profile], None)
    db.session.commit()
    from services import invites

    token = invites._serializer().dumps({"c": "ABCDEFGH"})
    invitation.code_hash = invites.keyed_hash("ABCDEFGH")
    db.session.commit()
    page = _body(client.get(f"/register?invite={token}"))
    assert 'value="grace@example.com"' in page and 'value="Grace"' in page and 'value="Hopper"' in page


@pytest.mark.parametrize("typed,stored,status", [("20,00", None, 422), ("1,234.50", 123450, 200), ("$25", 2500, 200),
                                                 ("twelve", None, 422)])
def test_money_is_read_one_way_and_the_rest_refused_beside_the_field(as_manager, make, typed, stored, status):
    client = make.client()
    walk = make.service(name="Walk")
    response = as_manager.post(f"/clients/{client.id}/prices", headers=HX,
                               data={"service_id": walk.id, "price": typed, "effective_on": "2026-01-01"})
    assert response.status_code == status
    if stored is None:
        assert re.search(r'id="price-error">[^<]*(amount|like 1,234.50)', _body(response))
    assert db.session.scalar(select(func.max(db.text("price_cents"))).select_from(db.text("custom_price"))) == stored


@pytest.mark.parametrize("typed,stored,message", [
    ("1_000", None, "is not an amount we can read"), ("€5", None, "Amounts are in $"),
    ("5£", None, "Amounts are in $"), ("١٢", None, "is not an amount we can read"),
    ("1e3", None, "is not an amount we can read"), ("Infinity", None, "Enter an amount"),
    ("-5", None, "A price cannot be negative."), ("25.505", None, "Use at most two decimal places."),
    ("25 $", 2500, None), ("$ 1,234", 123400, None), ("0.5", 50, None), ("12", 1200, None),
])
def test_money_is_parsed_strictly_and_only_in_the_business_currency(as_manager, make, typed, stored, message):
    client = make.client()
    walk = make.service(name="Walk")
    response = as_manager.post(f"/clients/{client.id}/prices", headers=HX,
                               data={"service_id": walk.id, "price": typed, "effective_on": "2026-01-01"})
    assert response.status_code == (422 if message else 200)
    if message:
        assert re.search(r'id="price-error">[^<]*' + re.escape(message), _body(response))
    assert db.session.scalar(select(func.max(db.text("price_cents"))).select_from(db.text("custom_price"))) == stored


def test_a_one_day_block_out_reads_as_one_day(as_manager):
    day = date.today() + timedelta(days=40)
    page = _body(as_manager.post("/schedule/blockouts", data={"starts_on": day.isoformat(), "note": "Holiday"},
                                 follow_redirects=True))
    assert "Closed " in page and "–" not in page.split("Closed ", 1)[1].split(".", 1)[0]


def test_staff_are_told_days_cannot_be_booked(me, rex, walk, sitter, as_manager):
    day = next_month_day(5)
    as_manager.post("/schedule/blockouts", data={"starts_on": day.isoformat()})
    page = _body(as_manager.post(f"/schedule/new?client={me.client_id}", data={
        "services": walk.id, "pets": rex.id, "mode": "days", "days-0": day.isoformat(), "window": "morning",
        "sitter_id": sitter.id, "action": "send"}))
    assert "cannot be booked" in page and "cannot be requested" not in page


def test_phones_get_a_menu_button(portal):
    assert 'class="menu-toggle" aria-expanded="false" aria-controls="main-nav"' in _body(portal.get("/portal/"))


def test_signing_out_ends_the_session_on_the_server(app, make, password_hash):
    staff = make.staff(Role.MANAGER, email="out@example.com")
    browser = app.test_client()
    assert browser.post("/staff/login", data={"email": "out@example.com", "password": PASSWORD,
                                              "remember": "y"}).status_code == 303
    cookies = {c.key: c.value for c in browser._cookies.values()}
    copy = app.test_client()
    for key, value in cookies.items():
        copy.set_cookie(key, value)
    assert copy.get("/clients/").status_code == 200
    browser.post("/staff/logout")
    assert copy.get("/clients/").status_code == 302  # the copied session cookie no longer signs anyone in
    remembered = app.test_client()
    remembered.set_cookie("remember_token", cookies["remember_token"])
    assert remembered.get("/clients/").status_code == 302  # nor the remember-me cookie on its own
    db.session.refresh(staff)


def test_saving_my_info_through_htmx_answers_the_section(portal, me):
    response = portal.post("/portal/info", headers={**HX, "HX-Target": "info"},
                           data={"first_name": "Nia", "last_name": "Reyes", "emails-0-email": "nia@example.com",
                                 "emails-0-is_primary": "y"})
    assert response.status_code == 200 and "<html" not in _body(response) and "Your details are saved." in _body(response)


def test_after_a_database_error_the_error_page_still_renders(app, as_manager, monkeypatch):
    from services import clients

    def broken(*args, **kwargs):
        db.session.execute(db.text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(clients, "search_clients", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = as_manager.get("/clients/")
    assert response.status_code == 500 and "<html" in _body(response)


def test_renaming_a_territory_to_a_taken_name_is_refused_beside_the_field(as_manager):
    from services.resources import save_territory

    save_territory(None, "North", "02139")
    south = save_territory(None, "South", "02140")
    db.session.commit()
    response = as_manager.post(f"/resources/territories/{south.id}", data={"name": "North", "zip_codes": "02140"})
    assert response.status_code == 422 and "already exists" in _body(response)


def test_a_refused_second_file_leaves_no_first_file(portal, me, app):
    form = save_form(None, "Papers", "", False, False, True, [FieldSpec("Insurance", "file"),
                                                                 FieldSpec("Vet record", "file")])
    db.session.commit()
    folder = os.path.join(app.config["UPLOAD_FOLDER"], "documents")
    response = portal.post(f"/portal/forms/{form.id}", content_type="multipart/form-data", data={
        "f1": (io.BytesIO(b"%PDF-1.4 fine\n%%EOF"), "ok.pdf"), "f2": (io.BytesIO(b"not a pdf"), "bad.pdf")})
    assert response.status_code == 422
    assert not os.path.exists(folder) or os.listdir(folder) == []
    assert db.session.scalar(select(func.count(Document.id))) == 0


@pytest.mark.parametrize("back", ["/\t/evil.example", "//evil.example", "https://evil.example/", "/\\evil.example"])
def test_revoking_an_invitation_never_redirects_off_the_site(as_manager, make, back):
    [invitation] = send_invitations([make.client()], None)
    db.session.commit()
    response = as_manager.post(f"/invitations/{invitation.id}/revoke", data={"back": back})
    assert response.status_code == 303 and response.headers["Location"] == "/invitations/"


def test_guessing_codes_from_many_addresses_is_slowed_for_everyone(app, client):
    app.config["REGISTER_CODE_LIMIT"] = "3 per hour"
    statuses = []
    for n in range(4):
        statuses.append(client.post("/register", environ_base={"REMOTE_ADDR": f"10.0.0.{n + 1}"}, data={
            "email": f"g{n}@example.com", "password": PASSWORD, "confirm": PASSWORD, "first_name": "G",
            "last_name": "Uess", "code": f"WRONG{n:03d}"}).status_code)
    assert statuses == [422, 422, 422, 429]


def test_a_client_with_history_is_kept_and_one_without_is_deleted_with_its_files(app, me, rex, walk, sitter,
                                                                                   as_manager, make):
    _scheduled_visit(me, rex, walk, sitter, timedelta(days=3))
    refused = as_manager.post(f"/clients/{me.client_id}/delete")
    assert refused.status_code == 409 and "set the client&#39;s status to Inactive" in _body(refused)
    assert db.session.get(ClientProfile, me.client_id) is not None
    edit = _body(as_manager.get(f"/clients/{me.client_id}/edit"))
    assert "Delete this client" not in edit and "cannot be deleted" in edit

    fresh = make.client()
    pet = make.pet(fresh)
    pet.photo = store_photo(fresh, _upload())
    db.session.commit()
    path = photo_path(pet.photo)
    assert os.path.exists(path)
    gone = as_manager.post(f"/clients/{fresh.id}/delete")
    assert gone.status_code == 303 and db.session.get(ClientProfile, fresh.id) is None
    assert not os.path.exists(path) and db.session.scalar(select(func.count(Photo.id))) == 0


def test_a_pet_with_history_is_kept_and_one_without_is_deleted(me, rex, walk, sitter, as_manager, make):
    _scheduled_visit(me, rex, walk, sitter, timedelta(days=3))
    assert as_manager.post(f"/pets/{rex.id}/delete").status_code == 409
    assert db.session.get(Pet, rex.id) is not None
    spare = make.pet(me.client, name="Spare")
    assert as_manager.post(f"/pets/{spare.id}/delete").status_code == 303
    assert db.session.get(Pet, spare.id) is None


def test_a_service_with_visits_and_a_policy_agreed_to_are_kept(me, rex, walk, sitter, as_manager):
    _scheduled_visit(me, rex, walk, sitter, timedelta(days=3))
    refused = as_manager.post(f"/resources/services/{walk.id}/delete", follow_redirects=True)
    assert "untick Active instead" in _body(refused)
    policy = Policy(title="Terms", body="Be kind.", version=1, required_at_registration=True)
    db.session.add(policy)
    db.session.flush()
    db.session.add(PolicyAgreement(policy_id=policy.id, policy_version=1, login_id=me.id))
    db.session.commit()
    kept = as_manager.post(f"/resources/policies/{policy.id}/delete", follow_redirects=True)
    assert "Clients have agreed" in _body(kept) and db.session.get(Policy, policy.id) is not None


def test_the_database_refuses_to_delete_history_too(me, rex, walk, sitter):
    """Belt and braces: even a delete that skips the service cannot take visits with it (ON DELETE RESTRICT)."""
    from sqlalchemy.exc import IntegrityError

    _scheduled_visit(me, rex, walk, sitter, timedelta(days=3))
    with pytest.raises(IntegrityError):
        db.session.execute(db.text("DELETE FROM client_profile WHERE id = :id"), {"id": me.client_id})
    db.session.rollback()
    assert db.session.scalar(select(func.count(Visit.id))) == 1
