"""Paying from the portal against localstripe (a fake Stripe over HTTP): a saved card without JavaScript, a new
card entered through Stripe.js (played here as Stripe.js plays it), the bank's check (3-D Secure), a declined
card, autopay consent, and another client's payment answering 404. The office charges the card on file and
refunds through Stripe."""
from __future__ import annotations

from datetime import date

import pytest
import requests
from sqlalchemy import func, select

from extensions import db
from models import LedgerEntry, OnlinePayment, Payment, PaymentMethod, StripeRefund
from services import billing, cards
from services.settings import get_settings
from tests.conftest import at_once, login_as, stripe_config
from tests.test_billing import OCTOBER, books_agree, books_checked_after, done_visit, run_and_issue  # noqa: F401


@pytest.fixture
def app_config(localstripe):
    return stripe_config(localstripe)


@pytest.fixture
def billed(app, me, make, manager):
    """Nia with two issued October invoices ($25.00 and $40.00) and a Visa on file."""
    settings = get_settings()
    settings.billing_mode, settings.billing_cycle, settings.billing_cycle_day = "cycle", "monthly", 1
    db.session.commit()
    walk = make.service(name="Dog walk", base_price_cents=2500)
    done_visit(me.client, walk, date(2026, 10, 5), price=2500)
    first = run_and_issue(manager, *OCTOBER)
    done_visit(me.client, walk, date(2026, 10, 20), price=4000)
    second = run_and_issue(manager, date(2026, 10, 16), date(2026, 10, 31))
    keep_card(app, me.client)
    return first + second


def stripe_client(app):
    with app.app_context():
        return cards.client()


def keep_card(app, profile, card: str = "pm_card_visa") -> PaymentMethod:
    """A card on file, as the card page leaves it after Stripe.js confirmed it."""
    secret = cards.start_setup(profile)
    intent = stripe_client(app).v1.setup_intents.confirm(secret.split("_secret_")[0], params={"payment_method": card})
    method = cards.finish_setup(profile, intent.id)
    db.session.commit()
    return method


def secure_card_on_file(app, profile) -> PaymentMethod:
    """A card whose bank asks for 3-D Secure on every charge, on file in place of the Visa (attached as the card
    page leaves it: its SetupIntent would need the bank's check too)."""
    for old in db.session.scalars(select(PaymentMethod)):
        cards.remove_method(profile, old)
    pm = stripe_client(app).v1.payment_methods.attach(card_pm(app, "4000002500003155"),
                                                      params={"customer": profile.stripe_customer_id})
    method = cards.keep_method(profile, pm.to_dict(), "active")
    db.session.commit()
    return method


def card_pm(app, number: str) -> str:
    return stripe_client(app).v1.payment_methods.create(params={
        "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}).id


def test_pay_one_invoice_with_the_saved_card_without_javascript(app, portal, me, billed):
    first, second = billed
    page = portal.get(f"/portal/pay?invoice={first.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Visa ending 4242" in body and "$25.00" in body
    method = db.session.scalar(select(PaymentMethod))
    paid = portal.post("/portal/pay", data={"invoices": [first.id], "tip": "none", "method": f"m{method.id}"})
    assert paid.status_code == 303 and "/portal/receipts/" in paid.headers["Location"]
    receipt = portal.get(paid.headers["Location"]).get_data(as_text=True)
    assert "Payment receipt" in receipt and "$25.00" in receipt and first.number in receipt
    db.session.expire_all()
    assert first.status.value == "paid" and second.due_cents == 4000
    [payment] = db.session.scalars(select(Payment)).all()
    assert (payment.method, payment.amount_cents, payment.reference) == ("card", 2500, "Visa ending 4242")
    intent = stripe_client(app).v1.payment_intents.retrieve(payment.online.stripe_intent_id)
    assert (intent.status, intent.amount) == ("succeeded", 2500)
    books_agree(me.client)


def test_pay_the_balance_with_a_new_card_and_a_tip(app, portal, me, billed):
    first, second = billed
    form = portal.post("/portal/pay", data={"invoices": [first.id, second.id], "tip": "10", "method": "new"})
    body = form.get_data(as_text=True)
    assert form.status_code == 200 and 'id="card-form"' in body and "Pay $71.50" in body  # $65.00 + 10%
    secret = body.split('data-client-secret="')[1].split('"')[0]
    # What Stripe.js does with the card typed in: confirm the SetupIntent.
    intent = stripe_client(app).v1.setup_intents.confirm(secret.split("_secret_")[0],
                                                         params={"payment_method": card_pm(app, "5555555555554444")})
    paid = portal.post("/portal/pay/card", data={"invoices": [first.id, second.id], "tip": "10", "tip_other": "",
                                                 "method": "new", "setup_intent": intent.id})
    assert paid.status_code == 303 and "/portal/receipts/" in paid.headers["Location"]
    receipt = portal.get(paid.headers["Location"]).get_data(as_text=True)
    assert "$65.00" in receipt and "$6.50" in receipt and "$71.50" in receipt
    db.session.expire_all()
    assert {first.status.value, second.status.value} == {"paid"}
    online = db.session.scalar(select(OnlinePayment))
    assert (online.amount_cents, online.tip_cents) == (6500, 650)
    # Not kept: the Visa is still the card on file, and the Mastercard was never put on the customer at Stripe,
    # so no card webhook can make it the card on file.
    assert [m.brand for m in db.session.scalars(select(PaymentMethod))] == ["visa"]
    used = stripe_client(app).v1.payment_intents.retrieve(online.stripe_intent_id).payment_method
    assert stripe_client(app).v1.payment_methods.retrieve(used).customer is None
    books_agree(me.client)


def test_a_new_card_kept_on_file_replaces_the_card_on_file(app, portal, me, billed):
    first, _second = billed
    form = portal.post("/portal/pay", data={"invoices": [first.id], "tip": "none", "method": "new", "keep": "y"})
    body = form.get_data(as_text=True)
    assert "will be kept on file" in body
    secret = body.split('data-client-secret="')[1].split('"')[0]
    intent = stripe_client(app).v1.setup_intents.confirm(secret.split("_secret_")[0],
                                                         params={"payment_method": card_pm(app, "5555555555554444")})
    # A one-off card's setup cannot be passed off as one to keep, nor the other way round.
    assert portal.post("/portal/pay/card", data={"invoices": [first.id], "tip": "none", "method": "new",
                                                 "setup_intent": intent.id}).status_code == 422
    paid = portal.post("/portal/pay/card", data={"invoices": [first.id], "tip": "none", "method": "new", "keep": "y",
                                                 "setup_intent": intent.id})
    assert paid.status_code == 303 and "/portal/receipts/" in paid.headers["Location"]
    db.session.expire_all()
    assert [m.last4 for m in db.session.scalars(select(PaymentMethod))] == ["4444"]  # it replaced the 4242
    assert first.status.value == "paid"


def test_a_declined_card_says_so_and_records_nothing(app, portal, me, billed):
    first, _second = billed
    keep_card(app, me.client, card_pm(app, "4000000000000341"))  # attaches, then every charge is declined
    method = db.session.scalar(select(PaymentMethod))
    refused = portal.post("/portal/pay", data={"invoices": [first.id], "tip": "none", "method": f"m{method.id}"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 402 and "Your card was declined" in body and 'name="invoices"' in body
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert db.session.scalar(select(func.count()).where(LedgerEntry.kind == "payment")) == 0
    db.session.expire_all()
    assert first.due_cents == 2500
    assert db.session.scalar(select(OnlinePayment.status)) == "failed"


def test_bad_choices_get_messages_beside_the_fields(app, portal, me, billed):
    first, _second = billed
    method = db.session.scalar(select(PaymentMethod))
    nothing = portal.post("/portal/pay", data={"tip": "none", "method": f"m{method.id}"})
    assert nothing.status_code == 422 and "Choose at least one invoice to pay." in nothing.get_data(as_text=True)
    odd_tip = portal.post("/portal/pay", data={"invoices": [first.id], "tip": "other", "tip_other": "abc",
                                                 "method": f"m{method.id}"})
    assert odd_tip.status_code == 422 and "tip_other-error" in odd_tip.get_data(as_text=True)
    no_method = portal.post("/portal/pay", data={"invoices": [first.id], "tip": "none", "method": "m999999"})
    assert no_method.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(OnlinePayment)) == 0


def test_the_banks_check_runs_in_the_page_then_pawtal_asks_stripe(app, portal, me, billed, localstripe):
    first, _second = billed
    method = secure_card_on_file(app, me.client)
    started = portal.post("/portal/pay", data={"invoices": [first.id], "tip": "none", "method": f"m{method.id}"})
    assert started.status_code == 303 and "/portal/payments/" in started.headers["Location"]
    page = portal.get(started.headers["Location"]).get_data(as_text=True)
    assert 'id="pay-action"' in page and "confirm this payment" in page
    online = db.session.scalar(select(OnlinePayment))
    assert online.status == "requires_action" and online.payment_id is None
    # Before the check is done, asking again records nothing.
    assert portal.post(f"/portal/payments/{online.id}/check").status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    # What localstripe's Stripe.js does when the client completes the bank's check.
    secret = page.split('data-client-secret="')[1].split('"')[0]
    done = requests.post(f"{localstripe}/v1/payment_intents/{online.stripe_intent_id}/_authenticate?success=true",
                         json={"key": "pk_test_pawtal", "client_secret": secret}, timeout=5)
    assert done.status_code == 200
    checked = portal.post(f"/portal/payments/{online.id}/check")
    assert checked.status_code == 303 and "/portal/receipts/" in checked.headers["Location"]
    db.session.expire_all()
    assert first.status.value == "paid"
    books_agree(me.client)


def test_another_clients_payment_answers_404(app, portal, me, billed, make, password_hash):
    first, _second = billed
    method = db.session.scalar(select(PaymentMethod))
    portal.post("/portal/pay", data={"invoices": [first.id], "tip": "none", "method": f"m{method.id}"})
    online = db.session.scalar(select(OnlinePayment))
    from models import ClientLogin
    other = make.client(first_name="Ada", last_name="Byron")
    login = ClientLogin(client=other, email="ada@example.com", password_hash=password_hash, active=True)
    db.session.add(login)
    db.session.commit()
    ada = app.test_client()
    login_as(ada, login)
    assert ada.get(f"/portal/payments/{online.id}").status_code == 404
    assert ada.post(f"/portal/payments/{online.id}/check").status_code == 404
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "payment"))
    assert ada.get(f"/portal/receipts/{entry.id}").status_code == 404
    assert ada.post("/portal/pay", data={"invoices": [first.id], "tip": "none", "method": f"m{method.id}"}
                    ).status_code == 422  # not her invoice, not her card


def test_autopay_needs_the_clients_agreement_and_keeps_its_words(app, portal, me, billed):
    page = portal.get("/portal/account").get_data(as_text=True)
    assert "Turn autopay on" in page and "charge Visa ending 4242 for each invoice on its due date" in page
    assert portal.post("/portal/autopay", data={}).status_code == 422
    assert not me.client.autopay
    assert portal.post("/portal/autopay", data={"agree": "y"}).status_code == 303
    db.session.expire_all()
    assert me.client.autopay and me.client.autopay_consent_at is not None
    assert "Visa ending 4242" in me.client.autopay_consent_text
    assert "Turn autopay off" in portal.get("/portal/account").get_data(as_text=True)
    assert portal.post("/portal/autopay/off").status_code == 303
    db.session.expire_all()
    assert not me.client.autopay


def test_staff_charge_the_card_on_file_then_refund_part_through_stripe(app, client, me, billed, manager):
    first, second = billed
    login_as(client, manager)
    refused = client.post(f"/billing/clients/{me.client_id}/charge",
                          data={"charge-amount": "65.00", "charge-authorisation": ""})
    assert refused.status_code == 422 and "authorised this charge" in refused.get_data(as_text=True)
    page = client.get(f"/billing/clients/{me.client_id}").get_data(as_text=True)
    key = page.split('name="charge-key" type="hidden" value="')[1].split('"')[0]
    sent = {"charge-amount": "65.00", "charge-authorisation": "By phone on Tuesday", "charge-confirmed": "y",
            "charge-key": key}
    charged = client.post(f"/billing/clients/{me.client_id}/charge", data=sent)
    assert charged.status_code == 303
    again = client.post(f"/billing/clients/{me.client_id}/charge", data=sent)  # the same form sent twice
    assert again.status_code == 422 and "This payment was already made." in again.get_data(as_text=True)
    db.session.expire_all()
    payment = db.session.scalar(select(Payment))
    assert payment.created_by_id == manager.id and "By phone on Tuesday" in payment.note
    assert {first.status.value, second.status.value} == {"paid"}
    refunded = client.post(f"/billing/clients/{me.client_id}/payments/{payment.id}/refund",
                           data={f"refund{payment.id}-amount": "20.00", f"refund{payment.id}-note": "Missed walk"})
    assert refunded.status_code == 303
    too_much = client.post(f"/billing/clients/{me.client_id}/payments/{payment.id}/refund",
                           data={f"refund{payment.id}-amount": "50.00", f"refund{payment.id}-note": ""})
    assert too_much.status_code == 422 and "$45.00" in too_much.get_data(as_text=True)
    db.session.expire_all()
    [made] = db.session.scalars(select(StripeRefund)).all()
    at_stripe = stripe_client(app).v1.refunds.retrieve(made.id)
    assert (at_stripe.amount, made.amount_cents, payment.refunded_cents) == (2000, 2000, 2000)
    assert billing.balance(me.client_id) == 2000
    books_agree(me.client)


def test_a_tip_goes_to_the_sitters_of_the_visits_paid_and_into_the_tips_export(app, portal, client, me, billed, make,
                                                                               manager):
    first, second = billed
    ana, bo = make.staff(first_name="Ana", last_name="Sitter"), make.staff(first_name="Bo", last_name="Sitter")
    for invoice, sitter in ((first, ana), (second, bo)):
        for line in invoice.lines:
            line.visit.sitter = sitter
    db.session.commit()
    method = db.session.scalar(select(PaymentMethod))
    paid = portal.post("/portal/pay", data={"invoices": [first.id, second.id], "tip": "other", "tip_other": "7.01",
                                            "method": f"m{method.id}"})
    assert paid.status_code == 303
    payment = db.session.scalar(select(Payment))
    assert sorted((t.sitter.first_name, t.amount_cents) for t in payment.tips) == [("Ana", 351), ("Bo", 350)]
    assert billing.balance(me.client_id) == 0  # the tip is the sitters', not credit on the account
    login_as(client, manager)
    day = payment.received_on.isoformat()
    csv = client.get(f"/billing/exports/tips.csv?start={day}&end={day}").get_data(as_text=True).splitlines()
    assert csv[0].startswith("Date,Sitter,Customer")
    assert sorted(row.split(",")[1] for row in csv[1:]) == ["Ana Sitter", "Bo Sitter"]
    assert sum(float(row.split(",")[4]) for row in csv[1:]) == 7.01


def test_a_payment_left_at_the_banks_check_cannot_pay_what_was_paid_another_way(app, portal, me, billed, manager,
                                                                                  localstripe):
    first, _second = billed
    method = secure_card_on_file(app, me.client)
    started = portal.post("/portal/pay", data={"invoices": [first.id], "tip": "none", "method": f"m{method.id}"})
    page = portal.get(started.headers["Location"]).get_data(as_text=True)
    secret = page.split('data-client-secret="')[1].split('"')[0]
    # The tab is left open; meanwhile the client pays that invoice by check.
    billing.record_payment(me.client, "check", 2500, date(2026, 11, 3), "1001", "", manager)
    db.session.commit()
    again = portal.get(started.headers["Location"]).get_data(as_text=True)
    assert 'id="pay-action"' not in again and "cancelled" in again
    online = db.session.scalar(select(OnlinePayment))
    assert online.status == "canceled"
    assert stripe_client(app).v1.payment_intents.retrieve(online.stripe_intent_id).status == "canceled"
    # The old tab's bank check can no longer take the money.
    late = requests.post(f"{localstripe}/v1/payment_intents/{online.stripe_intent_id}/_authenticate?success=true",
                         json={"key": "pk_test_pawtal", "client_secret": secret}, timeout=5)
    assert late.status_code != 200
    portal.post(f"/portal/payments/{online.id}/check")
    assert db.session.scalar(select(func.count()).where(Payment.method == "card")) == 0
    books_agree(me.client)


def test_ten_pay_posts_at_once_make_one_charge(app, me, billed):
    """Ten posts of the same pay form at once (a double click, many tabs): one PaymentIntent, one payment."""
    from tests.test_payments import intents_at_stripe

    first, second = billed
    method = db.session.scalar(select(PaymentMethod))
    sent = {"invoices": [first.id, second.id], "tip": "none", "method": f"m{method.id}"}
    browsers = []
    for _n in range(10):
        browser = app.test_client()
        login_as(browser, me)
        browsers.append(browser)
    statuses = at_once(app, 10, lambda n: browsers[n].post("/portal/pay", data=sent).status_code)
    assert statuses == [303] * 10, statuses  # each shown the one payment (its page, or the receipt)
    assert [intent.amount for intent in intents_at_stripe(me.client)] == [6500]
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    db.session.expire_all()
    assert {first.status.value, second.status.value} == {"paid"}
    books_agree(me.client)
