"""Importing a spreadsheet in Chromium: upload, see the per-row preview, confirm, land on the table."""
import re
from datetime import date

from playwright.sync_api import expect

from models import describe_age
from tests.browser.conftest import screenshot, staff_sign_in


def test_upload_map_preview_and_import_a_file_from_other_software(page, live_server, make, manager, tmp_path):
    """The issue's journey: foreign column names, one mapping fixed, preview, import, the client found whole."""
    csv_file = tmp_path / "export from OldSoft.csv"
    csv_file.write_bytes(
        "First Name;Last Name;Email Address;Mobile Phone;Street Address;City;State;Zip;Partner's e-mail;Pet\n"
        "Renée;Ortiz;renee@example.com;(617) 555-0101;12 Elm St;Cambridge;MA;2139;sam@example.com;Biscuit\n"
        "José;Núñez;jose@example.com;;;Boston;MA;02118;;\n"
        ";Nameless;x@example.com;;;;;;;\n".encode("cp1252"))
    staff_sign_in(page, live_server, manager)
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Spreadsheet (.csv or .xlsx)").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.get_by_role("heading", name="Where each column goes")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/imports/[0-9a-f]{32}\.csv$"))
    expect(page.get_by_label("Email Address")).to_have_value("email")
    expect(page.get_by_label("Street Address")).to_have_value("address_line1")
    partner = page.get_by_label("Partner's e-mail")
    expect(partner).to_have_value("")
    expect(page.get_by_role("row", name=re.compile("Partner's e-mail")).get_by_text("Not imported")).to_be_visible()
    expect(page.get_by_text("Renée")).to_be_visible()  # read as cp1252, not refused
    # "Pet" alone has no species: the rows would be refused, so it goes to a note instead.
    expect(page.get_by_text("The pet's species is missing").first).to_be_visible()
    page.get_by_label("Pet", exact=True).select_option("note")
    expect(page.get_by_text("The pet's species is missing")).to_have_count(0)
    partner.focus()
    partner.select_option("other_email")  # the one mapping the guess missed; htmx redoes the preview
    expect(page.get_by_role("row", name=re.compile("Partner's e-mail")).get_by_text("Imported as Other email")) \
        .to_be_visible()
    expect(partner).to_be_focused()  # the swap kept the keyboard where it was
    expect(page.get_by_text("The first name is missing.")).to_be_visible()
    screenshot(page, "import-mapping")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "phone-import-mapping")
    page.set_viewport_size({"width": 1280, "height": 860})
    page.get_by_role("button", name="Import 2 clients").click()
    expect(page).to_have_url(re.compile(r"/clients/$"))
    expect(page.get_by_text("Imported: 2 new clients, 0 pets. 1 row with errors was left out.")).to_be_visible()
    page.get_by_label("Search").fill("Ortiz")
    page.get_by_role("link", name=re.compile("Ortiz")).first.click()
    expect(page.get_by_text("renee@example.com")).to_be_visible()
    expect(page.get_by_text("sam@example.com")).to_be_visible()
    expect(page.get_by_text("12 Elm St")).to_be_visible()
    expect(page.get_by_text("Pet: Biscuit")).to_be_visible()  # kept as a staff note


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
