"""A new client's onboarding in real Chromium, with localstripe's Stripe.js, and axe-core on every portal page."""
import re

import pytest
from playwright.sync_api import expect

from extensions import db
from models import ClientProfile, PaymentMethod
from services.forms import FieldSpec, save_form
from services.settings import update_settings
from tests.browser.conftest import accessible_context, assert_accessible, screenshot
from tests.conftest import stripe_config
from tests.test_pets import png_bytes

PASSWORD_LABEL = re.compile(r"^Password(?! again)")


@pytest.fixture
def app_config(localstripe):
    return {**stripe_config(localstripe), "WTF_CSRF_ENABLED": True}


def _register(page, base):
    page.goto(f"{base}/register")
    page.get_by_label("First name").fill("Nia")
    page.get_by_label("Last name").fill("Reyes")
    page.get_by_label("Email").fill("nia@example.com")
    page.get_by_label(PASSWORD_LABEL).fill("walkies-2026!")
    page.get_by_label("Password again").fill("walkies-2026!")
    page.get_by_role("button", name="Create account").click()


def test_new_client_registers_and_finishes_onboarding(browser, live_server, tmp_path):
    update_settings(True, True, {"mobile_phone": "required"}, {})
    db.session.commit()
    save_form(None, "Service agreement", "Our terms for visits.", False, True, True,
              [FieldSpec("I agree to the terms", "yes_no", True), FieldSpec("Signature", "signature", True)])
    db.session.commit()
    context = accessible_context(browser, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    _register(page, live_server)
    widget = page.locator("#onboarding")
    expect(page.get_by_role("heading", name="Getting started: step 1 of 4")).to_be_visible()
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    assert_accessible(page)
    screenshot(page, "phone-onboarding-info")

    widget.get_by_role("button", name="Save and continue").click()  # the mobile phone is required
    expect(widget.get_by_text("This field is required.")).to_be_visible()
    expect(widget.get_by_label("Mobile phone")).to_have_attribute("aria-invalid", "true")
    widget.get_by_label("Mobile phone").fill("(555) 010-2233")
    widget.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", name="Getting started: step 2 of 4")).to_be_visible()
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "25")
    widget.get_by_label("Name", exact=False).first.fill("Biscuit")
    widget.get_by_label("Species").fill("Dog")
    photo = tmp_path / "biscuit.png"
    photo.write_bytes(png_bytes())
    widget.get_by_label("Upload a photo").set_input_files(str(photo))
    assert_accessible(page)
    widget.get_by_role("button", name="Add pet").click()

    expect(page.get_by_role("heading", name="Getting started: step 3 of 4")).to_be_visible()
    widget.get_by_role("button", name="Add a card").click()
    card = page.locator("#card-element")
    expect(card.get_by_placeholder("number")).to_be_visible()
    card.get_by_placeholder("number").fill("4242424242424242")
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("30")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("02139")
    assert_accessible(page, exclude=("#card-element",))  # Stripe's own fields (here localstripe's stand-in)
    screenshot(page, "phone-onboarding-card")
    page.get_by_role("button", name="Save card").click()

    expect(page.get_by_role("heading", name="Getting started: step 4 of 4")).to_be_visible()
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "75")
    page.wait_for_load_state("load")  # a new page (after Stripe): let htmx start before clicking
    widget.get_by_label("Yes").check()
    widget.get_by_label("Signature").fill("Nia Reyes")
    widget.get_by_role("button", name="Submit").click()

    expect(page.get_by_role("heading", name="You're all set")).to_be_visible()
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    screenshot(page, "phone-onboarding-done")
    page.get_by_role("link", name="Go to your dashboard").click()
    expect(page.get_by_role("heading", name="Welcome, Nia")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "phone-portal-dashboard")

    for path in ("/portal/info", "/portal/pets", "/portal/forms", "/portal/card"):
        page.goto(live_server + path)
        expect(page.locator("main h1")).to_be_visible()
        assert_accessible(page)
    menu = page.get_by_role("button", name="Menu")  # on a phone the menu folds behind one button
    expect(page.get_by_role("link", name="My Pets")).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="My Pets").click()
    page.get_by_role("link", name=re.compile("Edit")).first.click()
    expect(page.get_by_role("heading", name="Biscuit's documents")).to_be_visible()
    assert_accessible(page)

    client = db.session.scalar(db.select(ClientProfile).where(ClientProfile.last_name == "Reyes"))
    assert client.onboarding_complete and client.mobile_phone == "(555) 010-2233"
    method = db.session.scalar(db.select(PaymentMethod))
    assert (method.brand, method.last4) == ("visa", "4242")
    assert client.pets[0].photo_id is not None
    assert errors == []
    context.close()


def test_portal_pages_at_desktop_width_are_accessible(browser, live_server, make, password_hash):
    from models import ClientLogin

    client = make.client(first_name="Ola", last_name="Berg", mobile_phone="555")
    make.pet(client, name="Mochi")
    db.session.add(ClientLogin(client=client, email="ola@example.com", password_hash=password_hash))
    db.session.commit()
    context = accessible_context(browser, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    assert_accessible(page)
    page.get_by_label("Email").fill("ola@example.com")
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome, Ola")).to_be_visible()
    screenshot(page, "portal-dashboard")
    for path in ("/portal/", "/portal/info", "/portal/pets", "/portal/pets/new", "/portal/forms", "/portal/card",
                 "/register", "/password/forgot"):
        page.goto(live_server + path)
        assert_accessible(page)
    page.goto(f"{live_server}/portal/info")
    screenshot(page, "portal-my-info")
    context.close()

