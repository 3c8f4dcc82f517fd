"""The newsletter in real Chromium: a manager writes one, previews it, sends a test to herself and sends it; the
campaigns and subscribers pages at desktop and phone widths."""

import pytest
from playwright.sync_api import expect

from extensions import db
from models import NewsletterSubscriber, utcnow
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in
from tests.browser.test_intake import _mail
from tests.conftest import smtp_config


@pytest.fixture
def app_config(smtp):
    return {**smtp_config(smtp), "WTF_CSRF_ENABLED": True, "OUTBOX_WORKER": True, "OUTBOX_POLL_SECONDS": 3600}


def test_a_manager_writes_previews_tests_and_sends_a_newsletter(app, browser, live_server, manager, make, inbox):
    app.config["BASE_URL"] = live_server
    for n, name in enumerate(["Nia Reyes", "Tom Berg", "Ana Silva"]):
        client = make.client(first_name=name.split()[0], last_name=name.split()[1])
        db.session.add(NewsletterSubscriber(email=f"reader{n}@example.com", name=name, client_id=client.id,
                                            state="confirmed", confirmed_at=utcnow()))
    db.session.add(NewsletterSubscriber(email="later@example.com", state="pending"))
    db.session.commit()
    page = accessible_context(browser, viewport={"width": 1280, "height": 860}).new_page()
    page.set_default_timeout(10_000)
    staff_sign_in(page, live_server, manager)
    page.get_by_role("link", name="Newsletter", exact=True).click()
    page.get_by_role("link", name="New newsletter").click()
    # Sent empty: the messages are beside the fields, and nothing is made.
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#subject-error")).to_be_visible()
    page.get_by_label("Subject").fill("Spring walks are back")
    page.get_by_label("Newsletter", exact=True).fill(
        "# Spring is here\n\nLonger days mean **longer walks**.\n\n- morning walks from 7 am\n- drop-in visits for cats")
    page.get_by_label("Send to").select_option(label="Subscribers who are active clients")
    expect(page.locator("#audience-count")).to_contain_text("3 confirmed subscribers would get it")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Edit the newsletter")).to_be_visible()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "newsletter-compose")

    page.get_by_role("link", name="Preview").click()
    expect(page.get_by_role("heading", name="Spring is here")).to_be_visible()
    expect(page.locator("strong", has_text="longer walks")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "newsletter-preview")
    page.get_by_role("link", name="Back to the newsletter").click()

    page.get_by_role("button", name=f"Send a test to {manager.email}").click()
    expect(page.get_by_text(f"A test is on its way to {manager.email}.")).to_be_visible()
    test = _mail(inbox, manager.email)
    assert test["Subject"] == "[Test] Spring walks are back" and test["List-Unsubscribe-Post"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send to its audience now").click()
    expect(page.get_by_text("Sending to 3 subscribers.")).to_be_visible()
    expect(page.get_by_role("heading", name="What went out")).to_be_visible()
    page.get_by_role("link", name="All newsletters").click()
    expect(page.get_by_role("link", name="Spring walks are back")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "newsletter-campaigns")

    phone = accessible_context(browser, viewport={"width": 390, "height": 844}).new_page()
    phone.set_default_timeout(10_000)
    staff_sign_in(phone, live_server, manager)
    phone.goto(f"{live_server}/newsletter/subscribers")
    expect(phone.get_by_role("heading", name="Newsletter subscribers")).to_be_visible()
    phone.get_by_label("Search").fill("reader1")
    expect(phone.get_by_text("reader0@example.com")).to_have_count(0)
    expect(phone.get_by_text("reader1@example.com")).to_be_visible()
    assert_accessible(phone)
    screenshot(phone, "phone-newsletter-subscribers")
