"""A late cancellation on a phone, for real: the client opens a visit three hours ahead, reads the exact fee
before confirming, cancels, and the calendar shows it cancelled; the fee stored is the one shown."""
import os
from datetime import timedelta

from playwright.sync_api import expect

from extensions import db
from models import Role, Visit, VisitStatus
from services.settings import get_settings
from tests.browser.conftest import accessible_context, assert_accessible
from tests.browser.test_calendar import _client_signs_in
from tests.test_checkins import book

PHONE = {"width": 390, "height": 844}
SHOTS = "/tmp/shots"


def test_a_client_sees_the_fee_before_cancelling_late_and_the_calendar_shows_it_cancelled(browser, live_server, me,
                                                                                           make):
    get_settings().late_fee_tiers = [{"hours": 24, "percent": 50}, {"hours": 2, "percent": 100}]
    sitter = make.staff(Role.SITTER, first_name="Sami")
    walk = make.service(name="Dog walk", base_price_cents=2500)
    rex = make.pet(me.client, name="Rex")
    db.session.commit()
    visit = book(me.client, walk, sitter, [rex], starts_in=timedelta(hours=3))

    context = accessible_context(browser, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _client_signs_in(page, live_server)
    page.goto(f"{live_server}/portal/calendar?month={visit.day:%Y-%m}")
    page.locator(f'#calendar a.visit[href$="/visits/{visit.id}"]').click()
    panel = page.locator("section.visit-detail")
    fee = panel.locator("#cancel-fee")
    said = "Cancelling now costs $12.50 (50% of $25.00): less than 24 hours before the visit. " \
        "The fee goes on your next invoice."
    expect(fee).to_have_text(said)
    cancel = panel.get_by_role("button", name="Cancel this visit")
    expect(cancel).to_have_accessible_description(said)  # a screen reader hears the fee with the button
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page)
    os.makedirs(SHOTS, exist_ok=True)
    panel.screenshot(path=f"{SHOTS}/late-cancel-panel-390.png")

    cancel.click()
    expect(page.get_by_text("The late cancellation fee of $12.50 (50% of $25.00) goes on your next invoice.")) \
        .to_be_visible()
    expect(page.locator(f'#calendar a.visit.state-cancelled[href$="/visits/{visit.id}"]')).to_have_count(1)
    expect(page.locator("#calendar a.visit.state-scheduled")).to_have_count(0)
    page.screenshot(path=f"{SHOTS}/late-cancel-done-390.png")
    assert errors == []
    db.session.expire_all()
    cancelled = db.session.get(Visit, visit.id)
    assert cancelled.status == VisitStatus.CANCELLED and cancelled.late_fee_cents == 1250
    context.close()
