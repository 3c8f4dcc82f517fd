"""Site options in real Chromium: the owner fills the Business section (with a logo) and the top bar takes the new
name at once; a bad tax rate is refused beside its field; the page fits a 390px phone; axe-core finds nothing
serious. Screenshots go to /tmp/shots/ (to look at, not for the README)."""
import os

from PIL import Image
from playwright.sync_api import expect

from models import Role
from tests.browser.conftest import accessible_context, assert_accessible, staff_sign_in

SHOTS = "/tmp/shots"


def test_the_owner_names_the_business_and_the_top_bar_follows(browser, live_server, make, tmp_path):
    owner = make.staff(Role.OWNER, first_name="Olive")
    logo = tmp_path / "harbor.png"
    Image.new("RGB", (240, 80), (31, 111, 92)).save(logo)
    os.makedirs(SHOTS, exist_ok=True)

    context = accessible_context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    staff_sign_in(page, live_server, owner)
    page.goto(f"{live_server}/settings/")
    brand = page.locator("header .brand")
    expect(brand).to_have_text("Pawtal Pet Care")

    business = page.locator("#business-details")
    business.get_by_label("Business name").fill("Harbor Hounds")
    business.get_by_label("Phone").fill("(617) 555-0142")
    business.get_by_label("Email").fill("hello@harborhounds.example")
    business.get_by_label("Address").fill("8 Wharf Street\nSalem, MA 01970")
    business.get_by_label("Logo").set_input_files(str(logo))
    business.get_by_role("button", name="Save business details").click()
    expect(page.locator("#business-details").get_by_text("Business details saved.")).to_be_visible()
    expect(brand).to_have_text("Harbor Hounds")  # swapped in without a reload
    expect(brand.locator("img.brand-logo")).to_be_visible()
    expect(page.get_by_role("img", name="Your logo")).to_be_visible()

    billing = page.locator("#billing-options")
    billing.get_by_label("Tax rate, in %").fill("8.255")
    billing.get_by_role("button", name="Save billing options").click()
    expect(page.locator("#tax_rate-error")).to_have_text("Use at most two decimal places.")
    page.locator("#billing-options").get_by_label("Tax rate, in %").fill("8.25")
    page.locator("#billing-options").get_by_label("Fee 1: less than this many hours before the visit").fill("24")
    page.locator("#billing-options").get_by_label("Fee 1: share of the visit's price, in %").fill("50")
    page.locator("#billing-options").get_by_role("button", name="Save billing options").click()
    expect(page.locator("#billing-options").get_by_text("Billing options saved.")).to_be_visible()

    page.reload()
    expect(brand).to_have_text("Harbor Hounds")
    expect(page).to_have_title("Site options · Harbor Hounds")
    expect(page.locator("#tax_rate")).to_have_value("8.25")
    assert_accessible(page)
    page.screenshot(path=f"{SHOTS}/business-settings-1280.png", full_page=True)
    context.close()

    phone = accessible_context(browser, viewport={"width": 390, "height": 844})
    page = phone.new_page()
    page.set_default_timeout(10_000)
    staff_sign_in(page, live_server, owner)
    page.goto(f"{live_server}/settings/")
    expect(page.locator("header .brand")).to_have_text("Harbor Hounds")
    # A refused save at phone width: the messages sit under their fields and nothing scrolls sideways.
    page.locator("#business-details").get_by_label("Email").fill("hello@harbor")  # a browser takes it; the server does not
    page.locator("#business-details").get_by_role("button", name="Save business details").click()
    expect(page.locator("#email-error")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(page)
    page.screenshot(path=f"{SHOTS}/business-settings-390.png", full_page=True)
    phone.close()
    assert errors == []
