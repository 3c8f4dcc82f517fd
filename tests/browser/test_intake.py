"""The public intake form in real Chromium, at phone and desktop widths: a visitor becomes a Prospect, the office
finds them on the client desk, and the visitor sets a password from the emailed link and reaches the portal."""
import re
import time

import pytest
from playwright.sync_api import expect

from extensions import db
from services import intake
from services.resources import save_service
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in
from tests.conftest import smtp_config

LINK = re.compile(r"http://127\.0\.0\.1:\d+(/password/\S+)")


@pytest.fixture
def app_config(smtp):
    return {**smtp_config(smtp), "WTF_CSRF_ENABLED": True, "OUTBOX_WORKER": True, "OUTBOX_POLL_SECONDS": 3600}


def _mail(inbox, address: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if inbox.to(address):
            return inbox.to(address)[0]
        time.sleep(0.05)
    raise AssertionError(f"no email reached {address}")


def test_a_visitor_fills_the_intake_form_and_reaches_the_portal(app, browser, page, live_server, manager, inbox,
                                                                monkeypatch):
    monkeypatch.setattr(intake, "MIN_SECONDS", 1)
    app.config["BASE_URL"] = live_server
    save_service(None, "Dog walk", 30, 2500, True)
    db.session.commit()
    visitor = accessible_context(browser, viewport={"width": 390, "height": 844}).new_page()
    visitor.set_default_timeout(10_000)
    visitor.goto(f"{live_server}/start")
    expect(visitor.get_by_role("heading", name="Start with us")).to_be_visible()
    assert_accessible(visitor)
    screenshot(visitor, "phone-intake-form")
    # Sent empty: each missing answer is said beside its field, and nothing is made.
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.locator("#first_name-error")).to_be_visible()
    visitor.get_by_label("First name").fill("Ola")
    visitor.get_by_label("Last name").fill("Nordmann")
    visitor.get_by_label("Email").fill("ola@example.com")
    visitor.get_by_label("Phone").fill("(555) 010-3344")
    pet = visitor.get_by_role("group", name="Pet 1")
    pet.get_by_label("Pet's name").fill("Biscuit")
    pet.get_by_label("Kind of animal").fill("Dog")
    pet.get_by_label("Breed").fill("Beagle")
    pet.get_by_label("Age, in years").fill("4")
    visitor.get_by_label("Service you would like").select_option(label="Dog walk")
    visitor.get_by_label("Anything else we should know").fill("Biscuit pulls on the lead.")
    time.sleep(1)  # a person takes a moment; the form refuses to count one sent at once
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert_accessible(visitor)

    staff_sign_in(page, live_server, manager)
    page.get_by_label("Search").fill("Nordmann")
    page.get_by_role("link", name="Nordmann, Ola").click()
    expect(page.get_by_text("Biscuit").first).to_be_visible()
    expect(page.get_by_text("Prospect").first).to_be_visible()
    screenshot(page, "intake-prospect-profile")

    message = _mail(inbox, "ola@example.com")
    link = LINK.search(inbox.text(message)).group(1)
    visitor.goto(f"{live_server}{link}")
    visitor.get_by_label("New password", exact=False).first.fill("walkies-2026!")
    visitor.locator("#confirm").fill("walkies-2026!")
    visitor.get_by_role("button", name="Set Password & Login").click()
    expect(visitor.get_by_role("heading", name=re.compile("Welcome, Ola"))).to_be_visible()
