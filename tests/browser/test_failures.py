"""Failures in real Chromium: an ended session mid-search goes to sign in and back; a refused upload says why."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import staff_sign_in
from tests.conftest import PASSWORD


def test_a_search_after_the_session_ended_signs_in_again_and_comes_back(page, live_server, make, manager):
    make.client(first_name="Sara", last_name="Smith")
    staff_sign_in(page, live_server, manager)
    page.goto(f"{live_server}/clients/?sort=name")
    page.context.clear_cookies()  # signed out elsewhere, or the session expired
    page.get_by_label("Search").fill("Smi")
    expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    expect(page.locator("#client-rows")).to_have_count(0)  # the sign-in page, not swapped into the table
    page.get_by_label("Email").fill(manager.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/clients/\?sort=name$"))


def test_a_file_too_large_is_worded_not_silent(app, page, live_server, manager, tmp_path):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    big = tmp_path / "clients.csv"
    big.write_bytes(b"First name,Last name\n" + b"A,B\n" * 600_000)
    staff_sign_in(page, live_server, manager)
    page.goto(f"{live_server}/imports/")
    page.get_by_label("Spreadsheet (.csv or .xlsx)").set_input_files(str(big))
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.locator("#flashes")).to_contain_text("File too large. The upload is larger than this site accepts: "
                                                     "at most 1 MB at a time.")
    expect(page.locator(".upload-progress")).to_be_hidden()
    expect(page.get_by_role("button", name="Upload and map the columns")).to_be_enabled()


def test_a_save_then_an_error_share_the_pages_one_flashes_region(page, live_server, manager):
    staff_sign_in(page, live_server, manager)
    page.goto(f"{live_server}/settings/")
    page.get_by_role("button", name="Save site options").click()
    expect(page.locator("#site-options .flash")).to_have_text("Site options saved.")
    expect(page.locator('[id="flashes"]')).to_have_count(1)  # the saved form's notice is not a second #flashes
    page.locator('#site-options input[name="csrf_token"]').evaluate("input => { input.value = 'stale'; }")
    page.get_by_role("button", name="Save site options").click()
    expect(page.locator("#flashes")).to_contain_text("Reload the page and try again")
    expect(page.locator('[id="flashes"]')).to_have_count(1)
