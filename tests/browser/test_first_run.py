"""The first run in real Chromium: the setup link from the server's log opens the setup page, the owner makes their
account and names the business, and lands on the checklist of first steps; at a phone's width too. axe-core finds
nothing serious on either page."""
from playwright.sync_api import expect

from extensions import db
from models import Role, StaffUser
from services import first_run
from tests.browser.conftest import accessible_context, assert_accessible, screenshot
from tests.conftest import PASSWORD


def test_the_owner_sets_up_the_business_from_the_setup_link(app, browser, live_server):
    token = first_run.setup_token()
    context = accessible_context(browser, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server}/staff/login")
    expect(page.get_by_text("No account yet: see the setup link printed in the server's log.")).to_be_visible()

    page.goto(f"{live_server}/setup?token={token}")
    expect(page.get_by_role("heading", name="Set up Pawtal")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("First name").fill("Fern")
    page.get_by_label("Last name").fill("Oak")
    page.get_by_label("Your email").fill("fern@harbor.example")
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    page.get_by_label("Business name").fill("Harbor Hounds")
    page.get_by_label("Business email").fill("hello@harbor.example")
    page.get_by_label("Business phone").fill("(617) 555-0142")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "first-run-setup")
    page.locator("#password").fill("short")
    page.locator("#confirm").fill("short")
    page.get_by_role("button", name="Create my account").click()
    expect(page.locator("#password-error")).to_contain_text("Use at least 10 characters")  # swapped in place
    assert_accessible(page)
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()

    expect(page.get_by_role("heading", name="Getting your business ready")).to_be_visible()
    expect(page.get_by_text("Welcome, Fern: your account is ready.")).to_be_visible()
    expect(page.locator("header .brand")).to_have_text("Harbor Hounds")
    steps = page.locator("#setup-checklist .steps li")
    expect(steps).to_have_count(5)
    expect(page.locator("#setup-checklist li.done")).to_have_count(1)  # the business's details, saved at setup
    assert_accessible(page)
    owner = db.session.scalar(db.select(StaffUser))
    assert owner.role == Role.OWNER and owner.email == "fern@harbor.example"

    page.goto(f"{live_server}/setup?token={token}")  # once is enough
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert errors == []
    context.close()

    phone = accessible_context(browser, viewport={"width": 390, "height": 844}).new_page()
    phone.set_default_timeout(10_000)
    phone.goto(f"{live_server}/staff/login")
    phone.get_by_label("Email").fill("fern@harbor.example")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Getting your business ready")).to_be_visible()
    phone.wait_for_load_state()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(phone)
    screenshot(phone, "phone-owner-checklist")
    phone.get_by_role("button", name="Hide this checklist").click()
    expect(phone.locator("#setup-checklist")).to_have_count(0)
    phone.context.close()
