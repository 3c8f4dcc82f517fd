"""The client desk: profiles, field rules, territories, sitters, custom prices, table and profile views."""
from datetime import date

import pytest
from sqlalchemy import select

from extensions import db
from models import ClientEmail, ClientProfile, ClientStatus, CustomPrice, Role
from services.clients import price_on
from services.resources import save_territory, save_vet
from services.settings import get_settings, update_settings
from tests.conftest import HX, login_as


def _client_form(**values):
    data = {"first_name": "Ada", "last_name": "Lovelace", "status": "prospect", "emails-0-email": "ada@example.com",
            "emails-0-is_primary": "y"}
    data.update(values)
    return data


def test_new_profiles_start_as_prospects(as_manager):
    response = as_manager.post("/clients/", data={k: v for k, v in _client_form().items() if k != "status"})
    assert response.status_code == 303
    ada = db.session.scalar(select(ClientProfile).where(ClientProfile.last_name == "Lovelace"))
    assert ada.status == ClientStatus.PROSPECT
    assert ada.primary_emails == ["ada@example.com"]


def test_create_by_htmx_rerenders_the_profile(as_manager):
    response = as_manager.post("/clients/", data=_client_form(mobile_phone="(555) 010-1234"), headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert "Ada Lovelace" in body and "(555) 010-1234" in body
    assert response.headers["HX-Push-Url"].startswith("/clients/")


def test_errors_show_beside_the_field_with_422_and_nothing_is_saved(as_manager):
    response = as_manager.post("/clients/", data=_client_form(first_name="", **{"emails-0-email": "not-an-email"}),
                               headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in body
    assert 'id="first_name-error"' in body and 'aria-invalid="true"' in body
    assert db.session.scalar(select(ClientProfile)) is None
    plain = as_manager.post("/clients/", data=_client_form(last_name=""))
    assert plain.status_code == 422 and "<html" in plain.get_data(as_text=True)
    assert 'value="Ada"' in plain.get_data(as_text=True)  # what was typed is kept


def test_several_emails_one_primary_and_no_duplicates_across_clients(as_manager, make):
    make.client(email="taken@example.com")
    response = as_manager.post("/clients/", data=_client_form(**{
        "emails-0-email": "Ada@Example.com", "emails-0-is_primary": "",
        "emails-1-email": "work@example.com", "emails-1-is_primary": "y"}))
    assert response.status_code == 303
    ada = db.session.scalar(select(ClientProfile).where(ClientProfile.last_name == "Lovelace"))
    assert sorted((e.email, e.is_primary) for e in ada.emails) == [("ada@example.com", False),
                                                                  ("work@example.com", True)]
    clash = as_manager.post(f"/clients/{ada.id}", data=_client_form(**{"emails-0-email": "taken@example.com"}))
    assert clash.status_code == 422 and "already belongs to another client" in clash.get_data(as_text=True)


def test_required_and_hidden_fields_are_enforced_by_the_server(as_manager):
    update_settings(True, False, {"mobile_phone": "required", "home_phone": "hidden"}, {})
    db.session.commit()
    form = as_manager.get("/clients/new").get_data(as_text=True)
    assert 'name="home_phone"' not in form
    assert 'name="mobile_phone"' in form and "(required)" in form
    missing = as_manager.post("/clients/", data=_client_form(home_phone="555 0000"))
    assert missing.status_code == 422 and "This field is required." in missing.get_data(as_text=True)
    ok = as_manager.post("/clients/", data=_client_form(mobile_phone="555 1111", home_phone="555 0000"))
    assert ok.status_code == 303
    ada = db.session.scalar(select(ClientProfile))
    assert ada.mobile_phone == "555 1111" and ada.home_phone == ""


def test_territory_comes_from_the_zip_and_a_manual_choice_sticks(as_manager):
    north = save_territory(None, "North", "02139, 02140")
    db.session.commit()
    south = save_territory(None, "South", "02150")
    db.session.commit()
    as_manager.post("/clients/", data=_client_form(zip="02139"))
    ada = db.session.scalar(select(ClientProfile))
    assert ada.territory_id == north.id and not ada.territory_manual
    as_manager.post(f"/clients/{ada.id}", data=_client_form(zip="02150"))
    db.session.refresh(ada)
    assert ada.territory_id == south.id
    as_manager.post(f"/clients/{ada.id}", data=_client_form(zip="02150", territory_id=str(north.id)))
    db.session.refresh(ada)
    assert ada.territory_id == north.id and ada.territory_manual
    as_manager.post(f"/clients/{ada.id}", data=_client_form(zip="02139", territory_id=str(north.id)))
    save_territory(north, "North", "02140")
    db.session.commit()
    save_territory(south, "South", "02150 02139")  # the zip moves, the manual choice stays
    db.session.commit()
    db.session.refresh(ada)
    assert ada.territory_id == north.id


def test_new_zip_in_a_territory_moves_automatic_clients(as_manager, make):
    auto = make.client(zip="02199")
    north = save_territory(None, "North", "02199")
    db.session.commit()
    db.session.refresh(auto)
    assert auto.territory_id == north.id


def test_a_zip_belongs_to_one_territory(as_manager):
    save_territory(None, "North", "02139")
    db.session.commit()
    response = as_manager.post("/resources/territories/", data={"name": "Other", "zip_codes": "02139 02141"})
    assert response.status_code == 422 and "02139 (North)" in response.get_data(as_text=True)


def test_blocked_sitter_cannot_be_primary_or_secondary(as_manager, make):
    sam = make.staff(Role.SITTER)
    response = as_manager.post("/clients/", data=_client_form(primary_sitter_id=str(sam.id),
                                                              blocked_sitter_ids=[str(sam.id)]))
    assert response.status_code == 422
    assert "blocked for this client" in response.get_data(as_text=True)
    ok = as_manager.post("/clients/", data=_client_form(secondary_sitter_id=str(sam.id)))
    assert ok.status_code == 303


def test_vet_can_be_created_inline_and_is_selected(as_manager):
    fields = as_manager.get("/resources/vets/inline", headers=HX).get_data(as_text=True)
    assert 'name="new_vet-clinic"' in fields
    bad = as_manager.post("/resources/vets/inline", data={"new_vet-clinic": ""}, headers=HX)
    assert bad.status_code == 422 and 'new_vet-clinic-error' in bad.get_data(as_text=True)
    made = as_manager.post("/resources/vets/inline", data={"new_vet-clinic": "Paws Clinic", "new_vet-phone": "555"},
                           headers=HX)
    body = made.get_data(as_text=True)
    assert made.status_code == 200 and 'id="vet-field"' in body
    assert 'selected>Paws Clinic</option>' in body


def test_price_in_force_is_the_latest_effective_on_or_before_the_day(app, make, manager):
    client = make.client()
    walk = make.service(base_price_cents=2500)
    assert price_on(client.id, walk, date(2026, 1, 1)) == 2500
    for cents, day in [(2000, date(2026, 3, 1)), (2200, date(2026, 6, 1)), (2100, date(2026, 6, 1))]:
        db.session.add(CustomPrice(client=client, service=walk, price_cents=cents, effective_on=day))
        db.session.commit()
    assert price_on(client.id, walk, date(2026, 2, 28)) == 2500
    assert price_on(client.id, walk, date(2026, 3, 1)) == 2000
    assert price_on(client.id, walk, date(2026, 5, 31)) == 2000
    assert price_on(client.id, walk, date(2026, 6, 1)) == 2100  # same day: the later entry wins
    assert price_on(client.id, walk, date(2030, 1, 1)) == 2100
    other = make.client()
    assert price_on(other.id, walk, date(2026, 7, 1)) == 2500


def test_custom_prices_keep_their_history(as_manager, make):
    client = make.client()
    walk = make.service(name="Walk")
    for price, day in [("20", "2026-01-01"), ("22.50", "2026-06-01")]:
        response = as_manager.post(f"/clients/{client.id}/prices", data={"service_id": walk.id, "price": price,
                                                                          "effective_on": day}, headers=HX)
        assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True) and "$22.50" in response.get_data(as_text=True)
    rows = db.session.scalars(select(CustomPrice).where(CustomPrice.client_id == client.id)).all()
    assert sorted(r.price_cents for r in rows) == [2000, 2250]
    bad = as_manager.post(f"/clients/{client.id}/prices", data={"service_id": walk.id, "price": "twelve",
                                                                "effective_on": "2026-07-01"}, headers=HX)
    assert bad.status_code == 422 and "Enter an amount" in bad.get_data(as_text=True)
    # The form's message sits above the inline row of fields, not squeezed in as one of its items.
    form = bad.get_data(as_text=True).split('<form method="post" action="/clients/', 1)[1]
    row = form.index('<div class="inline-form with-fields">')
    assert form.index('class="form-errors"') < row < form.index('id="price"')


def test_sitters_see_assigned_clients_read_only_without_notes_or_prices(app, make):
    sitter = make.staff(Role.SITTER)
    mine = make.client(secondary_sitter_id=sitter.id, staff_notes="Owes us money", last_name="Assigned")
    theirs = make.client(last_name="Elsewhere")
    walk = make.service()
    db.session.add(CustomPrice(client=mine, service=walk, price_cents=1234, effective_on=date(2026, 1, 1)))
    db.session.commit()
    browser = app.test_client()
    login_as(browser, sitter)
    table = browser.get("/clients/").get_data(as_text=True)
    assert "Assigned" in table and "Elsewhere" not in table and "New client" not in table
    searched = browser.get("/clients/?q=e&status=active").get_data(as_text=True)
    assert "1 client matching" in searched and "Elsewhere" not in searched
    profile = browser.get(f"/clients/{mine.id}").get_data(as_text=True)
    assert "Owes us money" not in profile and "$12.34" not in profile and "Custom prices" not in profile
    assert "Edit profile" not in profile
    assert browser.get(f"/clients/{theirs.id}").status_code == 404
    assert browser.get(f"/clients/{mine.id}/edit").status_code == 403
    assert browser.post(f"/clients/{mine.id}", data=_client_form()).status_code == 403


def test_table_and_profile_as_page_and_fragment(as_manager, make):
    client = make.client(last_name="Zed")
    for url, target in [("/clients/", "desk"), ("/clients/?q=zed", "client-rows"), (f"/clients/{client.id}", "desk"),
                        (f"/clients/{client.id}/edit", "desk"), ("/clients/new", "desk")]:
        page = as_manager.get(url)
        fragment = as_manager.get(url, headers={**HX, "HX-Target": target})
        assert "<html" in page.get_data(as_text=True), url
        assert "<html" not in fragment.get_data(as_text=True), url
        assert "HX-Request" in page.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]
    rows = as_manager.get("/clients/?q=zed", headers={**HX, "HX-Target": "client-rows"}).get_data(as_text=True)
    assert rows.lstrip().startswith('<div id="client-rows"')
    restore = as_manager.get("/clients/?q=zed", headers={**HX, "HX-History-Restore-Request": "true"})
    boosted = as_manager.get("/clients/?q=zed", headers={**HX, "HX-Boosted": "true"})
    assert "<html" in restore.get_data(as_text=True) and "<html" in boosted.get_data(as_text=True)


def test_search_by_name_email_phone_and_pet(as_manager, make):
    ann = make.client(first_name="Ann", last_name="Archer", email="ann@archer.example.com",
                      mobile_phone="(555) 010-7777", phone_digits="5550107777")
    bob = make.client(first_name="Bob", last_name="Baker")
    make.pet(bob, name="Waffles")

    def names(q):
        body = as_manager.get(f"/clients/?q={q}", headers={**HX, "HX-Target": "client-rows"}).get_data(as_text=True)
        return {n for n in ("Archer", "Baker") if n in body}

    assert names("arch") == {"Archer"}
    assert names("archer.example") == {"Archer"}
    assert names("010-7777") == {"Archer"}
    assert names("waff") == {"Baker"}
    assert names("ann archer") == {"Archer"}
    assert names("ann baker") == set()
    assert ann.id != bob.id


def test_search_matches_letters_beyond_ascii_in_any_case(as_manager, make):
    """The search compares bytes of lower-cased text (COLLATE "C" on PostgreSQL): accents and capitals still match."""
    make.client(first_name="Zoë", last_name="Ångström")
    make.client(first_name="Zoe", last_name="Angstrom")

    def names(q):
        body = as_manager.get(f"/clients/?q={q}", headers={**HX, "HX-Target": "client-rows"}).get_data(as_text=True)
        return {n for n in ("Ångström", "Angstrom") if n in body}

    assert names("ÅNGSTR") == {"Ångström"}
    assert names("zoë") == {"Ångström"}
    assert names("zoe") == {"Angstrom"}


def test_status_filter_sort_and_pages(app, as_manager, make):
    app.config["CLIENTS_PER_PAGE"] = 2
    for last, status in [("Cole", ClientStatus.ACTIVE), ("Abel", ClientStatus.ACTIVE), ("Bell", ClientStatus.INACTIVE),
                         ("Dunn", ClientStatus.ACTIVE)]:
        make.client(last_name=last, status=status)
    body = as_manager.get("/clients/?status=active").get_data(as_text=True)
    assert "3 clients" in body and "Bell" not in body
    assert body.index("Abel") < body.index("Cole") and "Dunn" not in body and "Page 1 of 2" in body
    second = as_manager.get("/clients/?status=active&page=2").get_data(as_text=True)
    assert "Dunn" in second and "Abel" not in second
    desc = as_manager.get("/clients/?sort=name&dir=desc").get_data(as_text=True)
    assert desc.index("Dunn") < desc.index("Cole") and 'aria-sort="descending"' in desc
    pushed = as_manager.get("/clients/?status=active&q=&page=1", headers={**HX, "HX-Target": "client-rows"})
    assert pushed.headers["HX-Push-Url"] == "/clients/?status=active"


def test_search_pages_count_and_past_the_end(app, as_manager, make):
    """A search's total comes with its page; a page past the end shows the last one."""
    app.config["CLIENTS_PER_PAGE"] = 2
    for last in ("Smith", "Smithers", "Smythe", "Jones", "Blacksmith"):
        make.client(last_name=last)
    make.client(last_name="Percent", first_name="Half%")  # no digits: "100%" would also match any email with 100 in it
    make.client(last_name="Wide", first_name="Halfway")  # "half%" must not match it: the % is a letter there
    fragment = {**HX, "HX-Target": "client-rows"}

    def page(url):
        return as_manager.get(url, headers=fragment).get_data(as_text=True)

    first = page("/clients/?q=smith")
    assert "3 clients" in first and "Page 1 of 2" in first
    assert first.index("Blacksmith") < first.index("Smith,") and "Smithers" not in first
    second = page("/clients/?q=smith&page=2")
    assert "3 clients" in second and "Smithers" in second and "Page 2 of 2" in second
    beyond = page("/clients/?q=smith&page=9")
    assert "3 clients" in beyond and "Smithers" in beyond and "Page 2 of 2" in beyond
    assert "1 client matching" in page("/clients/?q=half%25") and "0 clients" in page("/clients/?q=zz%25")


def test_table_rows_show_first_email_phone_active_pets_and_password_mark(as_manager, make):
    from models import ClientLogin, Territory

    client = make.client(last_name="Rowe", email="rowe@example.com", home_phone="555 0100",
                         territory=Territory(name="North"))
    client.emails.append(ClientEmail(email="second@example.com", is_primary=False))
    make.pet(client, name="Zed")
    make.pet(client, name="Abby")
    make.pet(client, name="Gone", active=False)
    body = as_manager.get("/clients/").get_data(as_text=True)
    assert "rowe@example.com" in body and "second@example.com" not in body and "555 0100" in body
    assert "Abby, Zed" in body and "Gone" not in body and "North" in body
    assert "Portal password not set" in body
    db.session.add(ClientLogin(client=client, email="rowe@example.com", password_hash="x"))
    db.session.commit()
    assert "Portal password set" in as_manager.get("/clients/").get_data(as_text=True)


def test_profile_shows_every_field(as_manager, make, manager):
    vet = save_vet(None, "Elm Vets", "555-2222", "1 Elm")
    db.session.commit()
    client = make.client(first_name="Cora", last_name="Diaz", home_phone="555-3333", address_line1="1 Oak St",
                         city="Cambridge", state="MA", zip="02139", uses_keys=True, key_notes="Under the mat",
                         vet_id=vet.id, emergency_name="Dan Diaz", emergency_phone="555-4444",
                         primary_sitter_id=manager.id, staff_notes="Gate code 1234")
    make.pet(client, name="Pip", born_year=2020)
    body = as_manager.get(f"/clients/{client.id}").get_data(as_text=True)
    for text in ["Cora Diaz", "555-3333", "1 Oak St", "Under the mat", "Elm Vets", "Dan Diaz", "555-4444",
                 manager.name, "Gate code 1234", "Pip", "Portal logins", "Custom prices"]:
        assert text in body, text


def test_delete_client(as_manager, make):
    client = make.client()
    make.pet(client)
    assert as_manager.post(f"/clients/{client.id}/delete").status_code == 303
    assert db.session.scalar(select(ClientProfile)) is None
    assert db.session.scalar(select(ClientEmail)) is None


@pytest.mark.parametrize("view", ["table", "profile"])
def test_query_count_does_not_grow_with_clients(as_manager, make, count_queries, view):
    """No N+1: the same number of SQL statements at 10 and at 500 clients."""
    def measure():
        first = db.session.scalar(select(ClientProfile.id).order_by(ClientProfile.id))
        url = "/clients/" if view == "table" else f"/clients/{first}"
        with count_queries() as counter:
            assert as_manager.get(url).status_code == 200
        return counter.count

    get_settings()  # the site options row exists, as it does after the first request of any install
    db.session.commit()
    _bulk_clients(10)
    at_10 = measure()
    _bulk_clients(490)
    at_500 = measure()
    assert at_10 == at_500
    # The profile: its Account badge (one SUM over the client's ledger), the policies agreed, the last portal views
    # and the last message threads. Every staff page: the unread count beside Messages in the menu.
    assert at_500 <= (8 if view == "table" else 13)


def _bulk_clients(n: int) -> None:
    from models import Pet

    start = db.session.scalar(select(db.func.count(ClientProfile.id)))
    for i in range(start, start + n):
        client = ClientProfile(first_name=f"F{i}", last_name=f"L{i:04d}", status=ClientStatus.ACTIVE,
                               emails=[ClientEmail(email=f"bulk{i}@example.com", is_primary=True)])
        client.pets = [Pet(name=f"P{i}", species="Dog"), Pet(name=f"Q{i}", species="Cat")]
        client.refresh_search_text()
        db.session.add(client)
    db.session.commit()
