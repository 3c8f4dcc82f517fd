"""Messages in real Chromium. The journey of issue 18: a visitor fills in the intake form, staff find the new
Prospect and write to them, the visitor sets a password from the emailed link and reads the answer in the portal,
and answers back. Then a visit's own thread: the client writes about a visit, the sitter reads it on her day and
answers in place (an htmx swap). At phone and desktop widths, with axe."""
import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from extensions import db
from models import Role
from services import intake
from services.resources import save_service
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in
from tests.browser.test_intake import LINK, _mail
from tests.conftest import smtp_config
from tests.test_checkins import book

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app_config(smtp):
    return {**smtp_config(smtp), "WTF_CSRF_ENABLED": True, "OUTBOX_WORKER": True, "OUTBOX_POLL_SECONDS": 3600}


def test_a_visitor_becomes_a_prospect_staff_write_and_the_visitor_reads_the_answer_in_the_portal(
        app, browser, page, live_server, make, inbox, monkeypatch):
    monkeypatch.setattr(intake, "MIN_SECONDS", 1)
    app.config["BASE_URL"] = live_server
    manager = make.staff(Role.MANAGER, first_name="Maya")
    save_service(None, "Dog walk", 30, 2500, True)
    db.session.commit()
    visitor = accessible_context(browser, viewport=PHONE).new_page()
    visitor.set_default_timeout(10_000)
    visitor.goto(f"{live_server}/start")
    visitor.get_by_label("First name").fill("Ola")
    visitor.get_by_label("Last name").fill("Nordmann")
    visitor.get_by_label("Email").fill("ola@example.com")
    pet = visitor.get_by_role("group", name="Pet 1")
    pet.get_by_label("Pet's name").fill("Biscuit")
    pet.get_by_label("Kind of animal").fill("Dog")
    time.sleep(1)
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.get_by_role("heading", name="Thank you!")).to_be_visible()

    # Staff find the Prospect and write to them; a message sent empty is refused beside its field first.
    staff_sign_in(page, live_server, manager)
    page.get_by_label("Search").fill("Nordmann")
    page.get_by_role("link", name="Nordmann, Ola").click()
    page.get_by_role("link", name=re.compile("Write a message")).click()
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#body-error")).to_contain_text("Write your message.")
    page.get_by_label("Subject").fill("Welcome, Ola")
    page.get_by_label("Your message").fill("Hello Ola! When would you like us to meet Biscuit? https://example.com/team")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Welcome, Ola")).to_be_visible()
    expect(page.get_by_role("link", name="https://example.com/team")).to_be_visible()

    # The visitor sets a password from the intake email, finds the message in the portal, and answers.
    link = LINK.search(inbox.text(_mail(inbox, "ola@example.com"))).group(1)
    visitor.goto(f"{live_server}{link}")
    visitor.get_by_label("New password", exact=False).first.fill("walkies-2026!")
    visitor.locator("#confirm").fill("walkies-2026!")
    visitor.get_by_role("button", name="Set Password & Login").click()
    expect(visitor.get_by_role("heading", name=re.compile("Welcome, Ola"))).to_be_visible()
    visitor.get_by_role("button", name="Menu").click()
    messages_link = visitor.get_by_role("link", name=re.compile(r"^Messages 1"))
    expect(messages_link).to_be_visible()  # one new answer
    messages_link.click()
    assert_accessible(visitor)
    screenshot(visitor, "phone-portal-messages")
    visitor.get_by_role("link", name=re.compile("Welcome, Ola")).click()
    expect(visitor.get_by_text("When would you like us to meet Biscuit?")).to_be_visible()
    visitor.get_by_label("Your message").fill("Saturday morning works for us.")
    visitor.get_by_label("Attach a photo or PDF").set_input_files(files=[{
        "name": "biscuit.pdf", "mimeType": "application/pdf",
        "buffer": b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"}])
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.get_by_text("Saturday morning works for us.")).to_be_visible()
    expect(visitor.get_by_role("link", name="biscuit.pdf")).to_be_visible()
    assert_accessible(visitor)
    screenshot(visitor, "phone-portal-thread")

    # The office sees it unread in the menu and in the inbox.
    page.goto(f"{live_server}/messages/")
    expect(page.get_by_role("link", name=re.compile(r"^Messages 1"))).to_be_visible()
    expect(page.locator(".thread-row.unread")).to_contain_text("Welcome, Ola")
    desktop = accessible_context(browser, viewport={"width": 1280, "height": 860}).new_page()
    staff_sign_in(desktop, live_server, manager)
    desktop.goto(f"{live_server}/messages/")
    assert_accessible(desktop)
    screenshot(desktop, "messages-inbox")
    desktop.get_by_role("link", name=re.compile("Welcome, Ola")).click()
    expect(desktop.get_by_text("Saturday morning works for us.")).to_be_visible()
    assert_accessible(desktop)
    screenshot(desktop, "messages-thread")
    desktop.context.close()
    visitor.context.close()


def test_a_client_writes_about_a_visit_and_the_sitter_answers_on_her_day(app, browser, live_server, make, me):
    app.config["BASE_URL"] = live_server
    sitter = make.staff(Role.SITTER, first_name="Fern")
    visit = book(me.client, make.service(name="Dog walk"), sitter, [make.pet(me.client, name="Rex")],
                 starts_in=timedelta(hours=2))
    quiet = book(me.client, make.service(name="Cat sit"), sitter, [make.pet(me.client, name="Ivy")],
                 starts_in=timedelta(hours=3))
    client_page = accessible_context(browser, viewport=PHONE).new_page()
    client_page.set_default_timeout(10_000)
    client_page.goto(f"{live_server}/login")
    client_page.get_by_label("Email").fill(me.email)
    client_page.get_by_label("Password").fill(__import__("tests.conftest", fromlist=["PASSWORD"]).PASSWORD)
    client_page.get_by_role("button", name="Sign in").click()
    client_page.goto(f"{live_server}/portal/visits/{visit.id}")
    client_page.get_by_label("Your message").fill("The gate code changed: 4321.")
    client_page.get_by_role("button", name="Send").click()
    expect(client_page.get_by_text("Sent to your sitter and the office.")).to_be_visible()

    her = accessible_context(browser, viewport=PHONE).new_page()
    her.set_default_timeout(10_000)
    staff_sign_in(her, live_server, sitter)
    her.goto(f"{live_server}/today/")
    box = her.locator(f"#visit-thread-{visit.id}")
    expect(box).to_contain_text("The gate code changed: 4321.")
    box.get_by_label("Your message").fill("Thanks, noted!")
    box.get_by_role("button", name="Send").click()
    expect(box).to_contain_text("Message sent.")
    expect(box).to_contain_text("Thanks, noted!")
    expect(her.locator("h1").first).to_be_visible()  # the day stays; only the thread was swapped
    assert_accessible(her)
    box.scroll_into_view_if_needed()
    screenshot(her, "phone-sitter-visit-thread")
    client_page.reload()
    expect(client_page.get_by_text("Thanks, noted!")).to_be_visible()
    # A visit nobody wrote about yet: its closed thread fetches its form when she opens it.
    quiet_box = her.locator(f"#visit-thread-{quiet.id}")
    expect(quiet_box.locator("form")).to_have_count(0)
    quiet_box.locator("summary").click()
    quiet_box.get_by_label("Your message").fill("Running ten minutes late.")
    quiet_box.get_by_role("button", name="Send").click()
    expect(quiet_box).to_contain_text("Message sent.")
    expect(quiet_box).to_contain_text("Running ten minutes late.")
    her.context.close()
    client_page.context.close()
