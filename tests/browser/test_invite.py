"""Inviting in real Chromium: tick rows, the invite modal, the emailed link, registration, the check mark."""
import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, staff_sign_in
from tests.conftest import smtp_config

PASSWORD_LABEL = re.compile(r"^Password(?! again)")
LINK = re.compile(r"http://127\.0\.0\.1:\d+(/register\?invite=\S+)")


@pytest.fixture
def app_config(smtp):
    return {**smtp_config(smtp), "WTF_CSRF_ENABLED": True, "OUTBOX_WORKER": True, "OUTBOX_POLL_SECONDS": 3600}


def _wait_for_mail(inbox, address: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = inbox.to(address)
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no email reached {address}")


def test_staff_invite_three_then_a_client_registers_from_the_email(app, browser, page, live_server, make, manager,
                                                                  inbox):
    app.config["BASE_URL"] = live_server  # links in email point at this server
    people = [("Ann", "Archer"), ("Bob", "Baker"), ("Cat", "Chen"), ("Dee", "Diaz")]
    clients = [make.client(first_name=f, last_name=l, email=f"{f.lower()}@example.com") for f, l in people]
    staff_sign_in(page, live_server, manager)

    for client in clients[:3]:
        page.get_by_label(f"Select {client.name}").check()
    expect(page.locator("#selected-count")).to_have_text("3 selected")
    page.get_by_role("button", name="Invite…").click()
    dialog = page.get_by_role("dialog", name="Invite to the client portal")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("3 clients will get an Account Invitation")).to_be_visible()
    dialog.get_by_label("Personal message (optional)").fill("We now take bookings online!")
    screenshot(page, "invite-modal")
    dialog.get_by_role("button", name="Send 3 invitations").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_text("Invited 3 clients.")).to_be_visible()
    rows = page.locator("#client-rows tbody tr")
    for client in clients[:3]:
        expect(rows.filter(has_text=client.last_name).get_by_text("Invited", exact=True)).to_be_visible()
    expect(rows.filter(has_text="Diaz").get_by_text("Invited", exact=True)).to_have_count(0)
    screenshot(page, "client-table-invited")

    [message] = _wait_for_mail(inbox, "ann@example.com")
    text = message.get_body(("plain",)).get_content()
    assert "We now take bookings online!" in text
    link = LINK.search(text).group(1)

    guest = browser.new_context(viewport={"width": 390, "height": 844})
    phone = guest.new_page()
    phone.goto(live_server + link)
    expect(phone.get_by_role("heading", name=re.compile("Create your"))).to_be_visible()
    expect(phone.get_by_label("Invitation code")).not_to_have_value("")
    phone.get_by_label("First name").fill("Ann")
    phone.get_by_label("Last name").fill("Archer")
    phone.get_by_label("Email").fill("ann@example.com")
    phone.get_by_label(PASSWORD_LABEL).fill("short")
    phone.get_by_label("Password again").fill("short")
    phone.get_by_role("button", name="Create account").click()
    expect(phone.get_by_text("Use at least 10 characters.")).to_be_visible()
    expect(phone.get_by_label("First name")).to_have_value("Ann")
    screenshot(phone, "phone-register-error")
    phone.get_by_label(PASSWORD_LABEL).fill("walkies-2026!")
    phone.get_by_label("Password again").fill("walkies-2026!")
    phone.get_by_role("button", name="Create account").click()
    expect(phone.get_by_role("heading", name=re.compile(r"Getting started: step \d of \d"))).to_be_visible()
    screenshot(phone, "phone-portal")
    guest.close()

    page.reload()
    ann_row = page.locator("#client-rows tbody tr").filter(has_text="Archer")
    expect(ann_row.get_by_role("img", name="Portal password set")).to_be_visible()
    expect(page.locator("#client-rows tbody tr").filter(has_text="Baker").get_by_text("Invited", exact=True)).to_be_visible()


def test_invite_modal_keyboard_escape_closes_it(page, live_server, make, manager):
    client = make.client(first_name="Eve", last_name="Evans")
    staff_sign_in(page, live_server, manager)
    page.get_by_label(f"Select {client.name}").check()
    page.get_by_role("button", name="Invite…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Personal message (optional)")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    page.get_by_role("button", name="Invite…").click()
    page.get_by_role("dialog").get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/clients/$"))


def test_profile_logins_add_by_hand_and_invite_on_a_phone(browser, live_server, make, manager, inbox):
    client = make.client(first_name="Gil", last_name="Green", email="gil@example.com")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    staff_sign_in(phone, live_server, manager)
    phone.goto(f"{live_server}/clients/{client.id}")
    logins = phone.locator("#logins")
    logins.get_by_text("Add a login by hand").click()
    logins.get_by_label("Email").fill("not-an-email")
    logins.get_by_role("button", name=re.compile("Add login")).click()
    expect(logins.get_by_text(re.compile("is not an email address"))).to_be_visible()
    logins.get_by_label("Email").fill("partner@example.com")
    logins.get_by_label("First name").fill("Pat")
    logins.get_by_role("button", name=re.compile("Add login")).click()
    expect(logins.get_by_text("Added partner@example.com")).to_be_visible()
    expect(logins.get_by_text("no password yet", exact=False)).to_be_visible()
    logins.scroll_into_view_if_needed()
    screenshot(phone, "phone-profile-logins")
    phone.reload()  # the profile with a login, as a whole page (also for the HTML check)
    expect(phone.get_by_role("button", name="Disable partner@example.com")).to_be_visible()
    context.close()
