"""Importing a spreadsheet in Chromium: upload, see the per-row preview, confirm, land on the table."""
import re
from datetime import date

from playwright.sync_api import expect

from models import describe_age
from tests.browser.conftest import screenshot, staff_sign_in


def test_upload_preview_and_confirm(page, live_server, make, manager, tmp_path):
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text("first_name,last_name,email\nIvy,Irwin,ivy@example.com\n,Nameless,x@example.com\n"
                        "Joe,Jung,joe@example.com\n")
    staff_sign_in(page, live_server, manager)
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Spreadsheet (.csv or .xlsx)").set_input_files(str(csv_file))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_text("2 ready to import")).to_be_visible()
    expect(page.get_by_role("cell", name="first_name")).to_be_visible()
    screenshot(page, "import-preview")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "phone-import-preview")
    page.get_by_role("button", name="Import 2 clients").click()
    expect(page).to_have_url(re.compile(r"/clients/$"))
    expect(page.get_by_text("Imported 2 clients; 1 row left out.")).to_be_visible()
    expect(page.locator("#client-rows tbody tr")).to_have_count(2)


def test_pet_profile_screens(browser, live_server, make, manager):
    client = make.client(first_name="Pia", last_name="Park")
    pet = make.pet(client, name="Biscuit", breed="Beagle", born_year=2019, born_month=6, feeding="One cup twice a day")
    for name, viewport in [("pet-profile", {"width": 1280, "height": 860}),
                           ("phone-pet-profile", {"width": 390, "height": 844})]:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        staff_sign_in(page, live_server, manager)
        page.goto(f"{live_server}/pets/{pet.id}")
        expect(page.get_by_role("heading", name="Biscuit", exact=True)).to_be_visible()
        expect(page.get_by_text(f"({describe_age(2019, 6, None, date.today())})")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        screenshot(page, name)
        context.close()
