"""The client portal: the onboarding widget, My Info, My Pets, feature switches, and only one's own data."""
import io

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from extensions import db
from models import ClientProfile, ClientStatus, Pet
from services.pets import store_photo
from services.settings import PORTAL_FEATURES, get_settings, update_settings
from tests.conftest import HX, VISIT_OPTIONS
from tests.test_pets import png_bytes

WIDGET = {**HX, "HX-Target": "onboarding"}


def _info(**values):
    data = {"first_name": "Nia", "last_name": "Reyes", "emails-0-email": "nia@example.com", "emails-0-is_primary": "y",
            "mobile_phone": "", "widget": "1"}
    data.update(values)
    return data


def _pet(**values):
    data = {"name": "Biscuit", "species": "Dog", "sex": "", "widget": "1", "vaccinations-0-name": ""}
    data.update(values)
    return data


def test_widget_shows_steps_progress_and_the_current_form_as_page_and_fragment(portal):
    update_settings(True, False, {"mobile_phone": "required"}, {})
    db.session.commit()
    page = portal.get("/portal/")
    body = page.get_data(as_text=True)
    assert "<html" in body and "Getting started: step 1 of 2" in body
    assert 'role="progressbar"' in body and 'aria-valuenow="0"' in body and 'aria-valuemax="100"' in body
    assert "Fill in: Mobile phone." in body and 'aria-current="step"' in body and 'id="mobile_phone"' in body
    fragment = portal.get("/portal/", headers=WIDGET).get_data(as_text=True)
    assert "<html" not in fragment and fragment.lstrip().startswith('<section id="onboarding"')


def test_widget_submits_rerender_it_with_errors_in_place_then_advance_to_done(portal, me, as_manager):
    update_settings(True, False, {"mobile_phone": "required"}, {})
    db.session.commit()
    bad = portal.post("/portal/info", data=_info(), headers=WIDGET)
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "<html" not in body and 'id="onboarding"' in body
    assert 'id="mobile_phone-error"' in body and "This field is required." in body

    good = portal.post("/portal/info", data=_info(mobile_phone="555 0101"), headers=WIDGET)
    body = good.get_data(as_text=True)
    assert good.status_code == 200 and "Getting started: step 2 of 2" in body and 'aria-valuenow="50"' in body
    assert "Add at least one pet." in body and 'name="species"' in body

    pet = portal.post("/portal/pets/new", data=_pet(), headers=WIDGET)
    body = pet.get_data(as_text=True)
    assert pet.status_code == 200 and "You're all set" in body and 'aria-valuenow="100"' in body
    client = db.session.get(ClientProfile, me.client_id)
    db.session.refresh(client)
    assert client.onboarding_complete and client.mobile_phone == "555 0101"
    assert "Welcome, Nia" in portal.get("/portal/").get_data(as_text=True)  # the bar gives way to the dashboard

    table = as_manager.get("/clients/?onboarding=complete").get_data(as_text=True)
    assert "Reyes, Nia" in table
    assert "Reyes, Nia" not in as_manager.get("/clients/?onboarding=incomplete").get_data(as_text=True)


def test_without_javascript_the_widget_forms_are_pages(portal, me):
    update_settings(True, False, {"mobile_phone": "required"}, {})
    db.session.commit()
    bad = portal.post("/portal/info", data=_info())
    assert bad.status_code == 422 and "<html" in bad.get_data(as_text=True)
    assert "This field is required." in bad.get_data(as_text=True)
    good = portal.post("/portal/info", data=_info(mobile_phone="555 0101"))
    assert good.status_code == 303 and good.headers["Location"] == "/portal/"


def test_a_client_can_never_set_staff_only_fields(portal, me, make):
    sitter = make.staff()
    response = portal.post("/portal/info", data=_info(
        status="inactive", staff_notes="VIP, free walks", primary_sitter_id=str(sitter.id), territory_id="1",
        first_name="Nina"))
    assert response.status_code == 303
    client = db.session.get(ClientProfile, me.client_id)
    db.session.refresh(client)
    assert client.first_name == "Nina" and client.status == ClientStatus.ACTIVE
    assert client.staff_notes == "" and client.primary_sitter_id is None
    page = portal.get("/portal/info").get_data(as_text=True)
    for name in ("status", "staff_notes", "primary_sitter_id", "blocked_sitter_ids", "territory_id"):
        assert f'name="{name}"' not in page


def test_the_bar_follows_when_the_business_changes_what_is_required(portal, me, make):
    client = db.session.get(ClientProfile, me.client_id)
    make.pet(client, name="Biscuit")
    assert "Welcome, Nia" in portal.get("/portal/").get_data(as_text=True)
    update_settings(True, False, {}, {"breed": "required"})
    db.session.commit()
    body = portal.get("/portal/").get_data(as_text=True)
    assert "Getting started: step 2 of 2" in body and "Finish Biscuit&#39;s breed." in body
    db.session.refresh(client)
    assert client.onboarding_complete is False


def test_my_pets_add_edit_photo_and_inactive_pets_hidden(portal, me, make):
    client = db.session.get(ClientProfile, me.client_id)
    response = portal.post("/portal/pets/new", data={**_pet(widget=""),
                                                     "photo": (io.BytesIO(png_bytes()), "biscuit.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 303 and response.headers["Location"] == "/portal/pets"
    pet = db.session.scalar(select(Pet).where(Pet.client_id == client.id))
    assert pet.photo_id is not None
    assert portal.get(f"/portal/photos/{pet.photo_id}").status_code == 200
    edit = portal.post(f"/portal/pets/{pet.id}/edit", data=_pet(widget="", name="Biscuit II", born_year="2031"),
                       headers={**HX, "HX-Target": "pet-form"})
    assert edit.status_code == 422 and "Enter a year between 1900 and" in edit.get_data(as_text=True)
    assert "<html" not in edit.get_data(as_text=True)
    assert portal.post(f"/portal/pets/{pet.id}/edit", data=_pet(widget="", name="Biscuit II")).status_code == 303
    gone = make.pet(client, name="Old Rex", active=False)
    listing = portal.get("/portal/pets").get_data(as_text=True)
    assert "Biscuit II" in listing and "Old Rex" not in listing
    assert portal.get(f"/portal/pets/{gone.id}/edit").status_code == 404


def test_another_clients_pet_and_photo_answer_404(portal, make):
    other = make.client()
    their_pet = make.pet(other, name="NotYours")
    photo = store_photo(other, FileStorage(io.BytesIO(png_bytes()), "p.png"))
    db.session.commit()
    assert portal.get(f"/portal/pets/{their_pet.id}/edit").status_code == 404
    assert portal.post(f"/portal/pets/{their_pet.id}/edit", data=_pet(name="Mine now")).status_code == 404
    assert portal.get(f"/portal/photos/{photo.id}").status_code == 404
    assert portal.post("/portal/pets/new", data=_pet(photo_id=str(photo.id))).status_code == 422
    db.session.refresh(their_pet)
    assert their_pet.name == "NotYours"


@pytest.mark.parametrize("feature, urls, nav", [
    ("portal_profile", ["/portal/info"], "My Info"),
    ("portal_pets", ["/portal/pets", "/portal/pets/new"], "My Pets"),
])
def test_switched_off_functions_leave_the_menu_and_answer_404(portal, feature, urls, nav):
    for url in urls:
        assert portal.get(url).status_code == 200
    assert f">{nav}</a>" in portal.get("/portal/").get_data(as_text=True)
    update_settings(True, False, {}, {}, {feature: False})
    db.session.commit()
    for url in urls:
        assert portal.get(url).status_code == 404
    assert f">{nav}</a>" not in portal.get("/portal/").get_data(as_text=True)


def test_pets_switched_off_removes_the_pets_step(portal):
    assert "Getting started: step 2 of 2" in portal.get("/portal/").get_data(as_text=True)
    update_settings(True, False, {}, {}, {"portal_pets": False})
    db.session.commit()
    assert "Welcome, Nia" in portal.get("/portal/").get_data(as_text=True)


def test_staff_see_the_checklist_on_the_profile_and_the_switches_in_site_options(as_manager, me):
    body = as_manager.get(f"/clients/{me.client_id}").get_data(as_text=True)
    assert "Onboarding" in body and "1 of 2" in body and "Add at least one pet." in body
    options = as_manager.get("/settings/").get_data(as_text=True)
    for label in PORTAL_FEATURES.values():
        assert label in options
    assert "Card features are hidden from clients until Stripe is set up" in options
    form = {"clients_can_register": "y", "cancellation_hours": "24", **VISIT_OPTIONS,
            **{name: "y" for name in PORTAL_FEATURES if name != "portal_forms"}}
    assert as_manager.post("/settings/", data=form).status_code == 303
    assert get_settings().portal_forms is False and get_settings().portal_pets is True
