"""The client desk in real Chromium: search, profile, back, reload, selection, inline vet, edit in place."""
import re

from playwright.sync_api import expect

from extensions import db
from models import ClientProfile, ClientStatus, Role
from services.resources import save_territory, save_vet
from tests.browser.conftest import screenshot, staff_sign_in


def _desk(make):
    save_territory(None, "Cambridge North", "02139")
    db.session.commit()
    vet = save_vet(None, "Riverside Animal Hospital", "(555) 010-2000", "12 River St")
    db.session.commit()
    sitter = make.staff(Role.SITTER, first_name="Sam")
    people = [("Ann", "Archer", "Biscuit"), ("Abe", "Archer", "Luna"), ("Bob", "Baker", "Milo"),
              ("Cat", "Chen", "Mochi"), ("Dee", "Diaz", "Pepper")]
    for i, (first, last, pet) in enumerate(people):
        client = make.client(first_name=first, last_name=last, mobile_phone=f"(555) 010-10{i:02d}", city="Cambridge",
                             zip="02139", vet_id=vet.id, primary_sitter_id=sitter.id,
                             status=[ClientStatus.ACTIVE, ClientStatus.PROSPECT][i % 2])
        make.pet(client, name=pet, breed="Beagle", born_year=2019)


def test_search_open_back_reload_and_select(page, live_server, make, manager):
    _desk(make)
    staff_sign_in(page, live_server, manager)
    rows = page.locator("#client-rows tbody tr")
    expect(rows).to_have_count(5)
    screenshot(page, "client-table")

    page.get_by_label("Search").fill("arch")
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"/clients/\?q=arch$"))

    page.get_by_role("link", name="Archer, Ann").click()
    expect(page.get_by_role("heading", name=re.compile("Ann Archer"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"/clients/\d+\?q=arch$"))
    screenshot(page, "client-profile")
    page.reload()  # the profile as a whole page (also for the HTML check)
    expect(page.get_by_role("heading", name=re.compile("Ann Archer"))).to_be_visible()

    page.go_back()
    expect(page).to_have_url(re.compile(r"/clients/\?q=arch$"))
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Search")).to_have_value("arch")

    page.reload()
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Search")).to_have_value("arch")
    expect(page.get_by_text("Baker")).to_have_count(0)

    page.get_by_label("Select Ann Archer").check()
    expect(page.locator("#selected-count")).to_have_text("1 selected")
    page.get_by_label("Select all clients on this page").check()
    expect(page.locator("#selected-count")).to_have_text("2 selected")

    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", name=re.compile("Archer"))).to_be_visible()
    page.get_by_role("link", name="Table").click()
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"/clients/\?q=arch$"))


def test_sort_filter_and_page_state_in_the_url(page, live_server, make, manager):
    _desk(make)
    staff_sign_in(page, live_server, manager)
    page.get_by_label("Status").select_option("prospect")
    expect(page.locator("#client-rows tbody tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"status=prospect"))
    page.get_by_role("link", name="Name").click()
    expect(page).to_have_url(re.compile(r"dir=desc"))
    first = page.locator("#client-rows tbody tr").first
    expect(first).to_contain_text("Chen")
    page.reload()
    expect(page.locator("#client-rows tbody tr").first).to_contain_text("Chen")
    expect(page.get_by_label("Status")).to_have_value("prospect")


def test_edit_in_place_with_an_error_then_add_a_vet_inline(page, live_server, make, manager):
    _desk(make)
    staff_sign_in(page, live_server, manager)
    page.get_by_role("link", name="Chen, Cat").click()
    page.get_by_role("link", name="Edit profile").click()
    expect(page).to_have_url(re.compile(r"/clients/\d+/edit$"))
    page.get_by_label("First name").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#first_name-error")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "client-edit-error")

    page.get_by_label("First name").fill("Cathy")
    page.get_by_role("link", name="New vet").click()
    page.get_by_label("Clinic").fill("Harbor Pet Clinic")
    page.get_by_label("Phone", exact=True).fill("(555) 010-4000")
    page.get_by_role("button", name="Save vet").click()
    expect(page.get_by_label("Veterinarian")).to_have_value(re.compile(r"\d+"))
    expect(page.locator("#vet_id option:checked")).to_have_text("Harbor Pet Clinic")
    expect(page.get_by_label("First name")).to_have_value("Cathy")  # the client form was not lost

    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name=re.compile("Cathy Chen"))).to_be_visible()
    expect(page.get_by_text("Harbor Pet Clinic")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/clients/\d+$"))
    db.session.expire_all()
    cathy = db.session.scalar(db.select(ClientProfile).where(ClientProfile.first_name == "Cathy"))
    assert cathy.vet.clinic == "Harbor Pet Clinic"


def test_phone_width_screens(browser, live_server, make, manager):
    _desk(make)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    staff_sign_in(page, live_server, manager)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the table page scrolls sideways on a phone ({width}px)"
    screenshot(page, "phone-client-table")
    page.get_by_role("link", name="Archer, Ann").click()
    expect(page.get_by_role("heading", name=re.compile("Ann Archer"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "phone-client-profile")
    context.close()
