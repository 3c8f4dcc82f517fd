"""Paying online in real Chromium against localstripe (its fake Stripe API and its stand-in for Stripe.js): a client
pays the balance with a new card and a tip, the office refunds part of it through Stripe and the client sees the
refund; the bank's check (3-D Secure) in the page, failed then completed; a declined new card; a failed autopay
charge on the billing desk. axe-core on every new screen, screenshots at desktop and phone widths."""
import re
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from extensions import db
from models import LedgerEntry, OnlinePayment, Payment, PaymentMethod, StripeRefund
from services import cards, payments
from tests.browser.conftest import accessible_context, assert_accessible, screenshot, staff_sign_in
from tests.conftest import PASSWORD, stripe_config
from tests.test_billing import books_agree, books_checked_after  # noqa: F401 (the books agree after each test)
from tests.test_pay_portal import billed, card_pm, keep_card, stripe_client  # noqa: F401 (billed is a fixture)

CARD_ELEMENT = ("#card-element",)  # Stripe's own fields (here localstripe's stand-in): not ours to check
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def app_config(localstripe):
    return {**stripe_config(localstripe), "WTF_CSRF_ENABLED": True}


@pytest.fixture(autouse=True)
def patient_expect():
    """These pages wait on localstripe and its Stripe.js as well as the app: expect waits as long as the page."""
    expect.set_options(timeout=10_000)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the other modules


def _tab(browser, errors, **options):
    context = accessible_context(browser, **(options or {"viewport": DESKTOP}))
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page


def _client_sign_in(page, base):
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("nia@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome, Nia")).to_be_visible()


def _enter_card(page, number):
    card = page.locator("#card-element")
    expect(card.get_by_placeholder("number")).to_be_visible()  # Stripe.js loaded and drew its fields
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("30")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("02139")


def _fits(page):
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{page.url} scrolls sideways"


def test_pay_the_balance_with_a_new_card_and_a_tip_then_the_office_refunds_part(
        browser, live_server, app, me, manager, billed):
    first, second = billed
    errors = []
    desk, page = _tab(browser, errors)
    _client_sign_in(page, live_server)
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("link", name="Pay $65.00 now").click()

    expect(page.get_by_role("heading", name="Pay", exact=True)).to_be_visible()
    what = page.get_by_role("group", name="What to pay")
    expect(what.get_by_role("checkbox", name=re.compile(first.number))).to_be_checked()  # the whole balance
    expect(what.get_by_role("checkbox", name=re.compile(second.number))).to_be_checked()
    total = page.locator("#pay-total")
    expect(total).to_contain_text("You pay$65.00")
    page.get_by_role("radio", name="15%").check()
    expect(total).to_contain_text("Tip$9.75")  # htmx asked the server for the summary again
    expect(total).to_contain_text("You pay$74.75")
    page.get_by_role("radio", name="A new card").check()
    expect(total).to_contain_text("You pay$74.75")
    assert_accessible(page)
    screenshot(page, "pay-form")

    phone, handset = _tab(browser, errors, **PHONE)  # the same form on a phone, for its look
    _client_sign_in(handset, live_server)
    handset.goto(f"{live_server}/portal/pay")
    expect(handset.get_by_label("Tip amount")).to_be_hidden()  # until "Another amount" is chosen
    handset.get_by_role("radio", name="Another amount").check()
    handset.get_by_label("Tip amount").fill("5")
    handset.get_by_label("Tip amount").press("Tab")
    expect(handset.locator("#pay-total")).to_contain_text("You pay$70.00")
    handset.get_by_role("radio", name="15%").check()
    expect(handset.get_by_label("Tip amount")).to_be_hidden()
    expect(handset.locator("#pay-total")).to_contain_text("You pay$74.75")
    assert_accessible(handset)
    _fits(handset)
    screenshot(handset, "phone-pay-form")

    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("heading", name="Pay with a new card")).to_be_visible()
    expect(page.locator("#pay-total")).to_contain_text("You pay$74.75")
    _enter_card(page, "4242424242424242")
    assert_accessible(page, exclude=CARD_ELEMENT)
    page.get_by_role("button", name="Pay $74.75").click()

    expect(page.get_by_role("heading", name="Payment receipt")).to_be_visible()
    expect(page.get_by_text("Thank you! We received $74.75.")).to_be_visible()
    receipt = page.locator(".receipt")
    expect(receipt.locator("dt:has-text('Amount') + dd")).to_have_text("$65.00")
    expect(receipt.locator("dt:has-text('Tip for your sitter') + dd")).to_have_text("$9.75")
    expect(receipt.locator("dt:has-text('Charged') + dd")).to_have_text("$74.75")
    expect(receipt).to_contain_text(first.number)
    expect(receipt).to_contain_text(second.number)
    assert_accessible(page)
    screenshot(page, "pay-receipt")
    handset.goto(page.url)
    expect(handset.get_by_role("heading", name="Payment receipt")).to_be_visible()
    assert_accessible(handset)
    _fits(handset)
    screenshot(handset, "phone-pay-receipt")

    db.session.expire_all()
    payment = db.session.scalar(select(Payment))
    assert (payment.method, payment.amount_cents, payment.online.tip_cents) == ("card", 6500, 975)
    assert {first.status.value, second.status.value} == {"paid"}

    office, staff = _tab(browser, errors)
    staff_sign_in(staff, live_server, manager)
    staff.goto(f"{live_server}/billing/clients/{me.client.id}")
    expect(staff.get_by_role("heading", name="Charge the card on file")).to_be_visible()
    made = staff.locator("article.payment").filter(has_text="$65.00")
    expect(made).to_contain_text("+ $9.75 tip")
    made.locator("summary", has_text="Refund").click()  # opens the payment's refund form
    made.get_by_label("Refund amount").fill("20.00")
    made.get_by_label("Why").fill("One walk missed")
    made.get_by_role("button", name="Refund").click()
    expect(staff.get_by_text("$20.00 refunded; a receipt was emailed.")).to_be_visible()
    expect(staff.locator("article.payment").filter(has_text="$65.00")).to_contain_text("$20.00 refunded")
    ledger = staff.get_by_role("table", name="Every entry of the account, newest first")
    expect(ledger.get_by_role("row").nth(1)).to_contain_text("Refund")
    expect(ledger.get_by_role("row").nth(1)).to_contain_text("$20.00")
    assert_accessible(staff)
    staff.locator("#charge-card").evaluate("panel => window.scrollBy(0, panel.getBoundingClientRect().top - 16)")
    screenshot(staff, "billing-charge-card")
    staff.set_viewport_size(PHONE["viewport"])
    _fits(staff)
    staff.locator("#charge-card").evaluate("panel => window.scrollBy(0, panel.getBoundingClientRect().top - 12)")
    screenshot(staff, "phone-billing-charge-card")

    db.session.expire_all()
    [refund] = db.session.scalars(select(StripeRefund)).all()
    at_stripe = stripe_client(app).v1.refunds.retrieve(refund.id)
    assert (at_stripe.amount, at_stripe.status, refund.amount_cents) == (2000, "succeeded", 2000)
    assert at_stripe.payment_intent == payment.online.stripe_intent_id

    page.goto(f"{live_server}/portal/account")
    history = page.get_by_role("region", name="Payments and refunds")
    history.get_by_role("link", name=re.compile(r"Refund · \$20\.00")).click()
    expect(page.get_by_role("heading", name="Refund receipt")).to_be_visible()
    expect(page.locator(".receipt dt:has-text('Amount') + dd")).to_have_text("$20.00")
    assert_accessible(page)
    assert errors == []
    for context in (desk, phone, office):
        context.close()


def _card_needing_the_banks_check(app, client) -> PaymentMethod:
    """A card whose bank asks for 3-D Secure on every charge, on file as the card page leaves it."""
    for old in db.session.scalars(select(PaymentMethod)):
        cards.remove_method(client, old)
    pm = stripe_client(app).v1.payment_methods.attach(card_pm(app, "4000002500003155"),
                                                      params={"customer": client.stripe_customer_id})
    method = cards.keep_method(client, pm.to_dict(), "active")
    db.session.commit()
    return method


def test_the_banks_check_runs_in_the_page_failed_then_completed(browser, live_server, app, me, billed):
    first, second = billed
    _card_needing_the_banks_check(app, me.client)
    errors = []
    context, page = _tab(browser, errors, **PHONE)
    _client_sign_in(page, live_server)
    page.goto(f"{live_server}/portal/invoices/{first.id}")
    page.get_by_role("link", name="Pay $25.00").click()
    expect(page.get_by_role("radio", name="Visa ending 3155")).to_be_checked()
    page.get_by_role("button", name="Pay", exact=True).click()

    # The payment's page loads Stripe.js, which opens the bank's check by itself; the client fails it.
    expect(page.get_by_role("heading", name="Your payment of $25.00")).to_be_visible()
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.locator("#payment .error")).to_be_visible()
    expect(page.locator("#payment .badge")).to_have_text("Failed")
    assert_accessible(page)
    _fits(page)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert db.session.scalar(select(OnlinePayment.status)) == "failed"
    assert first.due_cents == 2500

    page.get_by_role("link", name="Try again").click()
    page.get_by_role("checkbox", name=re.compile(second.number)).uncheck()
    expect(page.locator("#pay-total")).to_contain_text("You pay$25.00")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_role("heading", name="Payment receipt")).to_be_visible()
    expect(page.locator(".receipt dt:has-text('Amount') + dd")).to_have_text("$25.00")
    db.session.expire_all()
    assert first.status.value == "paid" and second.due_cents == 4000
    failed, paid = db.session.scalars(select(OnlinePayment).order_by(OnlinePayment.id)).all()
    assert (failed.status, failed.payment_id, paid.status) == ("failed", None, "succeeded")
    intent = stripe_client(app).v1.payment_intents.retrieve(paid.stripe_intent_id)
    assert (intent.status, intent.amount) == ("succeeded", 2500)
    books_agree(me.client)
    assert errors == []
    context.close()


def test_a_declined_new_card_says_so_beside_the_form_and_records_nothing(browser, live_server, app, me, billed):
    first, second = billed
    errors = []
    context, page = _tab(browser, errors)
    _client_sign_in(page, live_server)
    page.goto(f"{live_server}/portal/pay?invoice={first.id}")
    page.get_by_role("radio", name="A new card").check()
    page.get_by_role("button", name="Pay", exact=True).click()
    _enter_card(page, "4000000000000341")  # Stripe.js sets the card up; every charge to it is then declined
    page.get_by_role("button", name="Pay $25.00").click()

    expect(page.get_by_role("heading", name="Pay", exact=True)).to_be_visible()
    expect(page.locator("#pay .form-errors")).to_contain_text("Your card was declined")
    expect(page.locator("#method-error")).to_contain_text("Your card was declined")  # beside the choice
    assert_accessible(page)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert db.session.scalar(select(func.count()).where(LedgerEntry.kind == "payment")) == 0
    assert db.session.scalar(select(OnlinePayment.status)) == "failed"
    assert [m.brand for m in db.session.scalars(select(PaymentMethod))] == ["visa"]  # the new card was not kept
    assert (first.due_cents, second.due_cents) == (2500, 4000)
    assert errors == []
    context.close()


def test_a_failed_autopay_charge_needs_the_offices_attention(browser, live_server, app, me, manager, billed):
    first, _second = billed
    keep_card(app, me.client, card_pm(app, "4000000000000341"))  # kept, then every charge to it is declined
    me.client.autopay = True
    db.session.commit()
    assert payments.run_autopay(date(2026, 11, 16)) == {"paid": 0, "pending": 0, "failed": 2, "skipped": 0}
    errors = []
    context, page = _tab(browser, errors)
    staff_sign_in(page, live_server, manager)
    page.get_by_role("link", name="Billing", exact=True).click()
    attention = page.get_by_role("region", name="Needs attention")
    expect(attention.get_by_role("heading", name="Autopay charges that failed")).to_be_visible()
    expect(attention.get_by_role("listitem")).to_have_count(2)
    expect(attention.get_by_role("listitem").filter(has_text=first.number)).to_contain_text(
        "try 1: Your card was declined")
    assert_accessible(page)
    attention.get_by_role("link", name="Nia Reyes").first.click()
    expect(page.get_by_role("heading", name="Nia Reyes: account")).to_be_visible()
    assert errors == []
    context.close()
