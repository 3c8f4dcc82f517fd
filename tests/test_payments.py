"""Online payments through Stripe (services.payments) against localstripe, a fake Stripe over HTTP: paying with
the card on file or a new card, a declined card, ten pays at once, the signed webhook before or after the page's
check, tips, refunds through Stripe and from its dashboard, disputes, staff charging the card on file, autopay and
its retries, and bank debits (ACH, which localstripe does not fake) through signed events. After every test every
client's books agree (`books_checked_after`)."""
from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
import requests
from flask import current_app
from sqlalchemy import event, func, select

from extensions import db
from filters import business_today
from models import (
    AutopayAttempt, ClientProfile, Invoice, InvoiceStatus, LedgerEntry, OnlinePayment, OutboxMessage, Payment,
    PaymentMethod, Role, StaffUser, StripeDispute, StripeEvent, StripeRefund, as_utc, utcnow,
)
from services import billing, cards, payments
from services.errors import DomainError, FieldErrors
from services.settings import get_settings
from tests.conftest import at_once, signed_event, stripe_config
from tests.test_billing import books_agree, books_checked_after, done_visit, run_and_issue  # noqa: F401

DECLINED = "4000000000000341"  # attaches, then every charge is declined
THREE_D_SECURE = "4000002500003155"  # the bank asks the client to confirm (3-D Secure)
NOTHING = {"paid": 0, "pending": 0, "failed": 0, "skipped": 0}


@pytest.fixture
def app_config(localstripe):
    return stripe_config(localstripe)


@pytest.fixture
def nia(app, make):
    """Nia, billed one invoice per visit (so a test has as many invoices as it needs)."""
    settings = get_settings()
    settings.billing_mode, settings.payment_terms_days = "per_visit", 14
    db.session.commit()
    return make.client(first_name="Nia", last_name="Reyes", email="nia@example.com")


def bill(manager, client, service, *prices, first_day: int = 3, sitters=()) -> list[Invoice]:
    """One issued invoice per price, a visit a day from October `first_day`, oldest first."""
    for n, price in enumerate(prices):
        visit = done_visit(client, service, date(2026, 10, first_day + n), price=price)
        if sitters:
            visit.sitter_id = sitters[n].id
    db.session.commit()
    return sorted(run_and_issue(manager, None, date(2026, 10, 31)), key=lambda invoice: invoice.id)


def keep_card(client, card: str = "pm_card_visa") -> PaymentMethod:
    """A card on file, as the card page leaves it once Stripe.js confirmed its SetupIntent."""
    intent = _confirmed_setup(client, card)
    method = cards.finish_setup(client, intent)
    db.session.commit()
    return method


def new_card(client, card: str = "pm_card_visa") -> dict:
    """A card entered for one payment: the Stripe PaymentMethod of a SetupIntent Stripe.js confirmed."""
    method, waiting = cards.confirmed_method(client, _confirmed_setup(client, card))
    assert not waiting
    db.session.commit()
    return method


def _confirmed_setup(client, card: str) -> str:
    secret = cards.start_setup(client)
    return cards.client().v1.setup_intents.confirm(secret.split("_secret_")[0], params={"payment_method": card}).id


def card_numbered(number: str) -> str:
    """A PaymentMethod for a test card number, as Stripe.js makes one from what the client typed."""
    return cards.client().v1.payment_methods.create(params={
        "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}).id


def intents_at_stripe(client) -> list:
    """The PaymentIntents localstripe holds for the client's customer (it cannot filter by customer itself)."""
    listed = cards.client().v1.payment_intents.list(params={"limit": 100})
    return [intent for intent in listed.auto_paging_iter() if intent.customer == client.stripe_customer_id]


def refunds_at_stripe(online: OnlinePayment) -> list[tuple[str, int]]:
    listed = cards.client().v1.refunds.list(params={"payment_intent": online.stripe_intent_id, "limit": 100})
    return sorted((refund.id, refund.amount) for refund in listed.data)


def entries(client) -> list[tuple[str, int]]:
    return [tuple(row) for row in db.session.execute(
        select(LedgerEntry.kind, LedgerEntry.amount_cents).where(LedgerEntry.client_id == client.id)
        .order_by(LedgerEntry.id))]


def outbox(kind: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def post_event(web, event_id: str, kind: str, obj: dict, **signing):
    """Stripe posting a signed event to the webhook."""
    body, signature = signed_event({"id": event_id, "object": "event", "type": kind, "created": int(time.time()),
                                    "api_version": "2024-06-20", "data": {"object": obj}}, **signing)
    return web.post("/stripe/webhook", data=body, headers={"Stripe-Signature": signature,
                                                           "Content-Type": "application/json"})


# ---- Paying ------------------------------------------------------------------------------------------------

def test_pay_one_invoice_with_the_card_on_file(app, manager, nia, walk):
    first, second = bill(manager, nia, walk, 2500, 4000)
    card = keep_card(nia)
    plan = payments.plan_for(nia.id, [first.id])
    assert plan == [(first.id, 2500)]
    online = payments.start(nia, plan, 0, card, "portal")
    assert (online.status, online.amount_cents, online.method_kind) == ("succeeded", 2500, "card")
    [payment] = db.session.scalars(select(Payment)).all()
    assert online.payment_id == payment.id and online.failure_message == ""
    assert (payment.method, payment.amount_cents, payment.reference) == ("card", 2500, "Visa ending 4242")
    assert [(a.invoice_id, a.amount_cents) for a in payment.allocations] == [(first.id, 2500)]
    assert entries(nia) == [("invoice", 2500), ("invoice", 4000), ("payment", -2500)]
    assert (first.status, second.status) == (InvoiceStatus.PAID, InvoiceStatus.SENT)
    [receipt] = outbox("receipt-payment")
    assert receipt.recipients == ["nia@example.com"] and "$25.00" in receipt.body_text
    [intent] = intents_at_stripe(nia)
    assert (intent.id, intent.amount, intent.status) == (online.stripe_intent_id, 2500, "succeeded")
    assert intent.metadata["pawtal_online_payment_id"] == str(online.id)
    assert [(row.invoice.id, row.cents) for row in payments.payable(nia.id)] == [(second.id, 4000)]
    books_agree(nia)


def test_pay_the_whole_balance_with_a_new_card_that_is_not_kept(app, manager, nia, walk):
    invoices = bill(manager, nia, walk, 2500, 4000, 1500)
    card = new_card(nia)
    plan = payments.plan_for(nia.id, [invoice.id for invoice in invoices])
    assert plan == [(invoice.id, invoice.total_cents) for invoice in invoices]
    online = payments.start(nia, plan, 0, card, "portal", detach_after=True)
    assert (online.status, online.amount_cents, online.method_label) == ("succeeded", 8000, "Visa ending 4242")
    assert [invoice.status for invoice in invoices] == [InvoiceStatus.PAID] * 3
    assert billing.account(nia.id).balance_cents == 0 and payments.payable(nia.id) == []
    assert [(a.invoice_id, a.amount_cents) for a in online.payment.allocations] == plan
    assert db.session.scalar(select(PaymentMethod)) is None  # not kept on file...
    assert cards.client().v1.payment_methods.retrieve(card["id"]).customer is None  # ...nor left at Stripe
    books_agree(nia)


def test_a_declined_card_pays_nothing_and_a_new_attempt_with_a_good_card_works(app, manager, nia, walk):
    [invoice] = bill(manager, nia, walk, 2500)
    declining = keep_card(nia, card_numbered(DECLINED))
    plan = payments.plan_for(nia.id, [invoice.id])
    with pytest.raises(payments.Declined) as declined:
        payments.start(nia, plan, 0, declining, "portal")
    assert declined.value.message == "Your card was declined."  # once, not "declined: Your card was declined."
    failed = declined.value.online
    assert (failed.status, failed.payment_id, failed.failure_message) == ("failed", None, declined.value.message)
    assert count(Payment) == 0 and entries(nia) == [("invoice", 2500)]
    assert invoice.status == InvoiceStatus.SENT and invoice.due_cents == 2500
    assert payments.plan_for(nia.id, [invoice.id]) == plan  # still due in full: a failed attempt is not pending
    # The same card again is a new attempt with a new idempotency key, not "already under way".
    with pytest.raises(payments.Declined):
        payments.start(nia, plan, 0, declining, "portal")
    online = payments.start(nia, plan, 0, keep_card(nia), "portal")
    assert online.status == "succeeded" and invoice.status == InvoiceStatus.PAID
    rows = db.session.execute(select(OnlinePayment.status, OnlinePayment.idempotency_key)
                              .order_by(OnlinePayment.id)).all()
    assert [status for status, _key in rows] == ["failed", "failed", "succeeded"]
    assert len({key for _status, key in rows}) == 3
    assert rows[0].idempotency_key.endswith("-0") and rows[1].idempotency_key.endswith("-1")
    assert count(Payment) == 1 and entries(nia) == [("invoice", 2500), ("payment", -2500)]
    assert outbox("payment-failed") == []  # a decline in the page is told there, not by email
    books_agree(nia)


def test_ten_pays_of_the_same_thing_at_once_charge_once(app, manager, nia, walk):
    [invoice] = bill(manager, nia, walk, 2500)
    card = keep_card(nia)
    plan = payments.plan_for(nia.id, [invoice.id])  # as the page showed it to every tab
    client_id, card_id = nia.id, card.id

    def pay(_i):
        return payments.start(db.session.get(ClientProfile, client_id), plan, 0,
                              db.session.get(PaymentMethod, card_id), "portal").status

    outcomes = at_once(app, 10, pay)
    # One charges; the others find it under way, or, on a busy machine where a thread starts after it finished,
    # nothing left to pay: either way they charge nothing.
    assert outcomes.count("succeeded") == 1 and set(outcomes) <= {"succeeded", "AlreadyStarted", "NothingDue"}, \
        outcomes
    assert len(intents_at_stripe(nia)) == 1
    assert count(OnlinePayment) == 1 and count(Payment) == 1 and len(outbox("receipt-payment")) == 1
    assert entries(nia) == [("invoice", 2500), ("payment", -2500)]
    assert db.session.get(Invoice, invoice.id).status == InvoiceStatus.PAID
    books_agree(nia)


# ---- The webhook -------------------------------------------------------------------------------------------

def _bank_check_passed(online: OnlinePayment) -> dict:
    """What Stripe.js does in the page when the client passes their bank's check; the PaymentIntent after it."""
    base = current_app.config["STRIPE_API_BASE"]
    answer = requests.post(f"{base}/v1/payment_intents/{online.stripe_intent_id}/_authenticate?success=true",
                           json={"key": "pk_test_pawtal", "client_secret": payments.client_secret(online)}, timeout=10)
    assert answer.status_code == 200, answer.text
    return cards.client().v1.payment_intents.retrieve(online.stripe_intent_id).to_dict()


@pytest.mark.parametrize("webhook_first", [False, True])
def test_the_pages_check_and_the_webhook_record_a_payment_once_in_either_order(app, client, manager, nia, walk,
                                                                               webhook_first):
    [invoice] = bill(manager, nia, walk, 2500)
    method = card_numbered(THREE_D_SECURE)
    cards.client().v1.payment_methods.attach(method, params={"customer": cards.ensure_customer(nia)})
    db.session.commit()
    online = payments.start(nia, payments.plan_for(nia.id, [invoice.id]), 0,
                            cards.client().v1.payment_methods.retrieve(method).to_dict(), "portal")
    assert online.status == "requires_action" and online.payment_id is None
    intent = _bank_check_passed(online)
    assert intent["status"] == "succeeded"

    forged = post_event(client, "evt_paid", "payment_intent.succeeded", intent, secret="whsec_not_ours")
    assert forged.status_code == 400
    db.session.expire_all()
    assert online.status == "requires_action" and count(Payment) == 0 and count(StripeEvent) == 0

    if webhook_first:
        answer = post_event(client, "evt_paid", "payment_intent.succeeded", intent)
        assert answer.status_code == 200 and answer.json["outcome"] == "succeeded"
        assert payments.check(online).status == "succeeded"
        db.session.commit()
    else:
        assert payments.check(online).status == "succeeded"
        db.session.commit()
        answer = post_event(client, "evt_paid", "payment_intent.succeeded", intent)
        assert answer.status_code == 200 and answer.json["outcome"] == "succeeded"
    replay = post_event(client, "evt_paid", "payment_intent.succeeded", intent)
    assert replay.status_code == 200 and replay.json["outcome"] == "duplicate"
    db.session.expire_all()
    assert count(Payment) == 1 and len(outbox("receipt-payment")) == 1
    assert entries(nia) == [("invoice", 2500), ("payment", -2500)]
    assert online.payment_id is not None and invoice.status == InvoiceStatus.PAID
    books_agree(nia)


# ---- Tips --------------------------------------------------------------------------------------------------

def test_a_tip_is_split_between_the_sitters_of_the_paid_visits_and_kept_off_the_ledger(app, make, manager, nia,
                                                                                       walk):
    sami, tara = make.staff(Role.SITTER, first_name="Sami"), make.staff(Role.SITTER, first_name="Tara")
    invoices = bill(manager, nia, walk, 2500, 2600, sitters=[sami, tara])
    plan = payments.plan_for(nia.id, [invoice.id for invoice in invoices])
    tip = payments.tip_cents("15", None, 5100)
    assert tip == 765
    online = payments.start(nia, plan, tip, keep_card(nia), "portal")
    assert cards.client().v1.payment_intents.retrieve(online.stripe_intent_id).amount == 5865  # charged with the tip
    payment = online.payment
    assert (payment.amount_cents, payment.tip_cents) == (5100, 765)
    assert [(t.sitter_id, t.amount_cents) for t in payment.tips] == [(sami.id, 383), (tara.id, 382)]  # odd cent first
    assert entries(nia) == [("invoice", 2500), ("invoice", 2600), ("payment", -5100)]
    assert billing.account(nia.id).balance_cents == 0 and all(i.status == InvoiceStatus.PAID for i in invoices)
    assert "Your tip of $7.65 goes to your sitter" in outbox("receipt-payment")[0].body_text
    books_agree(nia)


def test_tip_choices_and_amounts_that_are_refused(app):
    assert payments.tip_cents("none", 700, 5000) == 0
    assert payments.tip_cents("20", None, 5000) == 1000
    assert payments.tip_cents("other", 550, 5000) == 550  # "other" comes in cents, as the form's money field read it
    assert payments.tip_cents("other", payments.TIP_MAX_CENTS, 5000) == 100000
    for bad in (None, -1):  # left empty (or not a number), or below zero
        with pytest.raises(FieldErrors) as refused:
            payments.tip_cents("other", bad, 5000)
        assert refused.value.errors == {"tip_other": "Enter the tip as an amount, like $5.00."}, bad
    with pytest.raises(FieldErrors) as refused:
        payments.tip_cents("other", 100001, 5000)
    assert refused.value.errors == {"tip_other": "A tip can be at most $1,000.00."}
    for bad in ("12", "x", "-15"):
        with pytest.raises(FieldErrors) as refused:
            payments.tip_cents(bad, None, 5000)
        assert refused.value.errors == {"tip": "Choose a tip from the list."}
    get_settings().tips_enabled = False
    assert payments.tip_cents("15", None, 5000) == 0
    assert payments.tip_cents("other", None, 5000) == 0


# ---- Refunds -----------------------------------------------------------------------------------------------

def _paid(manager, nia, walk, price: int = 5000, tip: int = 500) -> tuple[Invoice, OnlinePayment]:
    [invoice] = bill(manager, nia, walk, price)
    online = payments.start(nia, payments.plan_for(nia.id, [invoice.id]), tip, keep_card(nia), "portal")
    assert online.status == "succeeded"
    return invoice, online


def test_refunds_go_through_stripe_and_never_past_what_was_paid_with_the_tip(app, manager, nia, walk):
    invoice, online = _paid(manager, nia, walk)
    payment = online.payment
    assert payment.refundable_cents == 5500
    payments.refund(payment, 2000, "Short walk", manager)
    db.session.commit()
    assert (invoice.status, invoice.due_cents) == (InvoiceStatus.PARTLY_PAID, 2000)
    books_agree(nia)
    with pytest.raises(FieldErrors) as refused:
        payments.refund(payment, 3501, "", manager)
    db.session.rollback()
    assert refused.value.errors == {"amount": "Only $35.00 of this payment is left to refund."}
    with pytest.raises(FieldErrors) as refused:
        payments.refund(payment, None, "", manager)
    db.session.rollback()
    assert set(refused.value.errors) == {"amount"}
    payments.refund(payment, 3500, "", manager)  # the rest of the payment, then the tip
    db.session.commit()
    assert (payment.refunded_cents, online.tip_refunded_cents, payment.refundable_cents) == (5000, 500, 0)
    with pytest.raises(FieldErrors):
        payments.refund(payment, 1, "", manager)
    db.session.rollback()
    at_stripe = refunds_at_stripe(online)
    assert sorted(amount for _id, amount in at_stripe) == [2000, 3500]
    rows = db.session.scalars(select(StripeRefund)).all()
    assert sorted((row.id, row.amount_cents) for row in rows) == at_stripe
    assert entries(nia) == [("invoice", 5000), ("payment", -5000), ("refund", 2000), ("refund", 3000)]  # no tip
    refund_entries = db.session.scalars(select(LedgerEntry.id).where(LedgerEntry.kind == "refund")).all()
    assert sorted(row.ledger_entry_id for row in rows) == sorted(refund_entries)
    assert (invoice.status, invoice.due_cents) == (InvoiceStatus.SENT, 5000)
    assert len(outbox("receipt-refund")) == 2
    books_agree(nia)


def test_two_refunds_at_once_never_pass_what_is_left(app, manager, nia, walk):
    _invoice, online = _paid(manager, nia, walk)
    payment_id, manager_id = online.payment_id, manager.id

    def refund(_i):
        payments.refund(db.session.get(Payment, payment_id), 4000, "", db.session.get(StaffUser, manager_id))
        return "refunded"

    assert sorted(at_once(app, 2, refund)) == ["FieldErrors", "refunded"]
    payment = db.session.get(Payment, payment_id)
    assert payment.refunded_cents == 4000 and payment.refundable_cents == 1500
    assert [amount for _id, amount in refunds_at_stripe(online)] == [4000]
    assert count(StripeRefund) == 1 and entries(nia)[-1] == ("refund", 4000)
    books_agree(nia)


def test_a_refund_made_in_stripes_dashboard_is_recorded_once(app, client, manager, nia, walk):
    invoice, online = _paid(manager, nia, walk)
    payments.refund(online.payment, 1000, "", manager)  # one made in Pawtal, already known
    db.session.commit()
    made = cards.client().v1.refunds.create(params={"payment_intent": online.stripe_intent_id, "amount": 4500})
    charge = cards.client().v1.charges.retrieve(made.charge).to_dict()
    assert len(charge["refunds"]["data"]) == 2

    answer = post_event(client, "evt_refunded", "charge.refunded", charge)
    assert answer.status_code == 200 and answer.json["outcome"] == "refunded"
    db.session.expire_all()
    assert db.session.get(StripeRefund, made.id).amount_cents == 4500
    assert (online.payment.refunded_cents, online.tip_refunded_cents) == (5000, 500)  # the tip last
    assert entries(nia)[-2:] == [("refund", 1000), ("refund", 4000)]
    assert (invoice.status, invoice.due_cents) == (InvoiceStatus.SENT, 5000)
    assert len(outbox("receipt-refund")) == 2

    replay = post_event(client, "evt_refunded", "charge.refunded", charge)
    assert replay.status_code == 200 and replay.json["outcome"] == "duplicate"
    # A later event for the same charge, without its refunds listed (Pawtal asks Stripe for them).
    later = post_event(client, "evt_refunded_again", "charge.refunded",
                       {key: value for key, value in charge.items() if key != "refunds"})
    assert later.status_code == 200 and later.json["outcome"] == "known"
    db.session.expire_all()
    assert count(StripeRefund) == 2 and len(entries(nia)) == 4 and len(outbox("receipt-refund")) == 2
    books_agree(nia)


def test_the_same_payment_made_again_after_a_refund_is_a_new_payment(app, manager, nia, walk):
    # The key is derived from what is paid: once a payment succeeded, the same payment made again for real (the
    # invoice refunded and due again) gets a new key instead of "already under way".
    invoice, online = _paid(manager, nia, walk, 2500, tip=0)
    payments.refund(online.payment, 2500, "Walk cancelled", manager)
    db.session.commit()
    assert invoice.due_cents == 2500
    card = db.session.scalar(select(PaymentMethod))
    again = payments.start(nia, payments.plan_for(nia.id, [invoice.id]), 0, card, "portal")
    assert again.status == "succeeded" and again.id != online.id and again.idempotency_key != online.idempotency_key
    assert invoice.status == InvoiceStatus.PAID and len(intents_at_stripe(nia)) == 2
    books_agree(nia)


def test_the_same_payment_sent_again_with_what_the_page_showed_is_not_charged_twice(app, manager, nia, walk):
    # A second post of the pay form whose plan was read before the first post's payment succeeded, but which starts
    # after it: the succeeded attempt gives it a new key, and the check after the claim finds nothing due.
    [invoice] = bill(manager, nia, walk, 2500)
    card = keep_card(nia)
    plan = payments.plan_for(nia.id, [invoice.id])
    assert payments.start(nia, plan, 0, card, "portal").status == "succeeded"
    with pytest.raises(payments.NothingDue):
        payments.start(nia, plan, 0, card, "portal")
    db.session.rollback()
    assert len(intents_at_stripe(nia)) == 1 and count(Payment) == 1


# ---- Disputes ----------------------------------------------------------------------------------------------

def test_a_dispute_is_recorded_once(app, client, manager, nia, walk):
    _invoice, online = _paid(manager, nia, walk, tip=0)
    intent = cards.client().v1.payment_intents.retrieve(online.stripe_intent_id)
    dispute = {"id": "dp_test_1", "object": "dispute", "amount": 5000, "currency": "usd",
               "charge": intent.latest_charge.id, "payment_intent": online.stripe_intent_id, "reason": "fraudulent",
               "status": "needs_response"}
    answer = post_event(client, "evt_dispute", "charge.dispute.created", dispute)
    assert answer.status_code == 200 and answer.json["outcome"] == "dispute"
    assert post_event(client, "evt_dispute", "charge.dispute.created", dispute).json["outcome"] == "duplicate"
    db.session.expire_all()
    [row] = payments.disputes()
    assert (row.id, row.payment_id, row.client_id, row.amount_cents, row.reason, row.status) == (
        "dp_test_1", online.payment_id, nia.id, 5000, "fraudulent", "needs_response")
    # Stripe sends the same dispute again as it moves on (created again, updated, closed): one row, its last status.
    again = post_event(client, "evt_dispute_again", "charge.dispute.created", dispute)
    assert again.status_code == 200 and again.json["outcome"] == "dispute needs_response"
    closed = post_event(client, "evt_dispute_closed", "charge.dispute.closed", {**dispute, "status": "lost"})
    assert closed.status_code == 200 and closed.json["outcome"] == "dispute lost"
    db.session.expire_all()
    assert [(row.id, row.status) for row in payments.disputes()] == [("dp_test_1", "lost")]
    assert entries(nia) == [("invoice", 5000), ("payment", -5000)]  # a dispute is not money back (yet)
    assert count(StripeDispute) == 1


# ---- Staff charge the card on file ------------------------------------------------------------------------

def test_staff_charge_the_card_on_file_with_the_clients_authorisation(app, manager, nia, walk):
    first, second = bill(manager, nia, walk, 2500, 4000)
    with pytest.raises(FieldErrors) as refused:
        payments.charge_on_file(nia, 3000, "  ", manager)
    assert set(refused.value.errors) == {"authorisation", "amount"}  # no card on file either
    assert "no usable card" in refused.value.errors["amount"]
    keep_card(nia)
    for amount, said, field in ((3000, "", "authorisation"), (3000, "x" * 501, "authorisation"),
                                (None, "By phone", "amount"), (0, "By phone", "amount")):
        with pytest.raises(FieldErrors) as refused:
            payments.charge_on_file(nia, amount, said, manager)
        assert set(refused.value.errors) == {field}
    assert count(OnlinePayment) == 0 and intents_at_stripe(nia) == []

    online = payments.charge_on_file(nia, 7000, "By phone on Tuesday,\n  spoke with Nia", manager)
    db.session.commit()
    assert (online.status, online.source, online.created_by_id) == ("succeeded", "staff", manager.id)
    assert online.authorisation == "By phone on Tuesday, spoke with Nia"
    payment = online.payment
    assert payment.created_by_id == manager.id and payment.amount_cents == 7000
    assert "authorised by the client: By phone on Tuesday, spoke with Nia" in payment.note
    assert (first.status, second.status) == (InvoiceStatus.PAID, InvoiceStatus.PAID)
    assert billing.account(nia.id).credit_cents == 500  # more than was due stays as credit
    assert [intent.amount for intent in intents_at_stripe(nia)] == [7000]
    books_agree(nia)


def test_a_staff_charge_form_sent_twice_is_one_charge_and_a_new_form_another(app, manager, nia, walk):
    bill(manager, nia, walk, 10000)
    keep_card(nia)
    first = payments.charge_on_file(nia, 2500, "Weekly instalment, by phone", manager, form_key="form-1")
    db.session.commit()
    with pytest.raises(payments.AlreadyStarted) as again:  # the same form posted twice (a double click)
        payments.charge_on_file(nia, 2500, "Weekly instalment, by phone", manager, form_key="form-1")
    assert again.value.online.id == first.id
    db.session.rollback()
    second = payments.charge_on_file(nia, 2500, "Weekly instalment, by phone", manager, form_key="form-2")
    db.session.commit()
    assert (first.status, second.status) == ("succeeded", "succeeded") and first.id != second.id
    assert [intent.amount for intent in intents_at_stripe(nia)] == [2500, 2500]
    assert billing.account(nia.id).balance_cents == 5000
    books_agree(nia)


# ---- Autopay -----------------------------------------------------------------------------------------------

def test_autopay_needs_a_usable_method_and_keeps_the_consent(app, nia):
    with pytest.raises(DomainError, match="Put a card or bank account on file first"):
        payments.set_autopay(nia, True)
    keep_card(nia)
    before = utcnow()
    payments.set_autopay(nia, True)
    db.session.commit()
    assert nia.autopay and as_utc(nia.autopay_consent_at) >= before
    assert "Visa ending 4242" in nia.autopay_consent_text and "1, 3, 7 days later" in nia.autopay_consent_text
    payments.set_autopay(nia, False)
    assert not nia.autopay and nia.autopay_consent_text  # what they agreed to is kept
    get_settings().autopay_mode = "off"
    with pytest.raises(DomainError, match="not offered"):
        payments.set_autopay(nia, True)
    get_settings().autopay_mode = "required"
    with pytest.raises(DomainError, match="cannot be turned off"):
        payments.set_autopay(nia, False)
    db.session.rollback()


def _on_autopay(manager, nia, walk, *prices, card: str = "pm_card_visa") -> list[Invoice]:
    """Nia's invoices, the first due today and the others tomorrow, and autopay on with a card."""
    invoices = bill(manager, nia, walk, *prices)
    for n, invoice in enumerate(invoices):
        invoice.due_on = business_today() + timedelta(days=min(n, 1))
    keep_card(nia, card)
    payments.set_autopay(nia, True)
    db.session.commit()
    return invoices


def _attempts() -> list[tuple]:
    return [tuple(row) for row in db.session.execute(
        select(AutopayAttempt.attempt, AutopayAttempt.status, AutopayAttempt.next_try_on)
        .order_by(AutopayAttempt.invoice_id, AutopayAttempt.attempt))]


def test_autopay_charges_an_invoice_on_its_due_date_once(app, manager, nia, walk):
    today = business_today()
    due, later = _on_autopay(manager, nia, walk, 2500, 4000)
    assert [invoice.id for invoice in payments.autopay_candidates(today)] == [due.id]
    assert payments.run_autopay(today) == {**NOTHING, "paid": 1}
    assert (due.status, later.status) == (InvoiceStatus.PAID, InvoiceStatus.SENT)
    assert payments.run_autopay(today) == NOTHING
    assert _attempts() == [(1, "succeeded", None)]
    [online] = db.session.scalars(select(OnlinePayment)).all()
    assert (online.source, online.amount_cents, online.status) == ("autopay", 2500, "succeeded")
    assert [intent.amount for intent in intents_at_stripe(nia)] == [2500]
    assert count(Payment) == 1 and len(outbox("receipt-payment")) == 1
    books_agree(nia)


def test_autopay_turned_on_charges_invoices_due_from_then_not_ones_already_overdue(app, manager, nia, walk):
    today = business_today()
    overdue, due = _on_autopay(manager, nia, walk, 2500, 4000)
    overdue.due_on, due.due_on = today - timedelta(days=10), today + timedelta(days=3)
    db.session.commit()
    assert payments.autopay_candidates(today) == [] and payments.run_autopay(today) == NOTHING
    assert [invoice.id for invoice in payments.autopay_candidates(due.due_on)] == [due.id]
    # Turned off before the run: nothing is charged, and no try is used up.
    payments.set_autopay(nia, False)
    db.session.commit()
    assert payments.run_autopay(due.due_on) == NOTHING and _attempts() == []
    assert intents_at_stripe(nia) == []


def test_two_autopay_runs_at_once_charge_once(app, manager, nia, walk):
    today = business_today()
    [invoice] = _on_autopay(manager, nia, walk, 2500)
    outcomes = at_once(app, 2, lambda _i: payments.run_autopay(today))
    assert sum(outcome["paid"] for outcome in outcomes) == 1, outcomes
    assert [intent.amount for intent in intents_at_stripe(nia)] == [2500]
    assert count(Payment) == 1 and _attempts() == [(1, "succeeded", None)] and outbox("payment-failed") == []
    assert db.session.get(Invoice, invoice.id).status == InvoiceStatus.PAID
    books_agree(nia)


def test_an_autopay_run_that_listed_an_invoice_before_another_run_charged_it_does_not_charge_again(
        app, manager, nia, walk):
    # Two runs at once (say two hosts with the same cron job): the late one lists the invoice as due, then the
    # other charges it (the card is declined) before the late one claims its try. Claiming "the next try" instead
    # of the one it listed, the late run charged the declined card a second time in the same minute, emailed the
    # client twice and used up a retry day.
    today = business_today()
    _on_autopay(manager, nia, walk, 2500, card=card_numbered(DECLINED))
    listed, other_done, late = threading.Event(), threading.Event(), {}

    def hold(_conn, _cursor, statement, *_args):
        if threading.current_thread().name == "late-run" and "autopay_attempt" in statement and not listed.is_set():
            listed.set()  # the late run has read the invoice's tries (none yet): it is on its list
            other_done.wait(30)

    def late_run():
        with app.app_context():
            try:
                late["counts"] = payments.run_autopay(today)
            finally:
                db.session.remove()

    event.listen(db.engine, "after_cursor_execute", hold)
    try:
        thread = threading.Thread(target=late_run, name="late-run")
        thread.start()
        assert listed.wait(30)
        assert payments.run_autopay(today) == {**NOTHING, "failed": 1}
        other_done.set()
        thread.join(60)
    finally:
        other_done.set()
        event.remove(db.engine, "after_cursor_execute", hold)
    assert late["counts"]["failed"] == late["counts"]["paid"] == 0, late
    db.session.expire_all()
    assert len(intents_at_stripe(nia)) == 1
    assert _attempts() == [(1, "failed", today + timedelta(days=1))] and len(outbox("payment-failed")) == 1
    books_agree(nia)


def test_a_declined_autopay_charge_is_retried_on_the_sites_retry_days(app, manager, nia, walk):
    today = business_today()
    [invoice] = _on_autopay(manager, nia, walk, 2500, card=card_numbered(DECLINED))
    assert payments.run_autopay(today) == {**NOTHING, "failed": 1}
    assert _attempts() == [(1, "failed", today + timedelta(days=1))]
    [attempt] = payments.autopay_failures()
    assert attempt.message == "Your card was declined." and attempt.online_payment.status == "failed"
    [mail] = outbox("payment-failed")
    assert mail.recipients == ["nia@example.com"] and "did not go through" in mail.body_text
    assert "We will try again on" in mail.body_text
    assert count(Payment) == 0 and invoice.status == InvoiceStatus.SENT
    assert payments.run_autopay(today) == NOTHING  # not again before the retry day

    # The retry days (1, 3, 7) count from the first failure, whatever day the run is for.
    assert payments.run_autopay(today + timedelta(days=1)) == {**NOTHING, "failed": 1}  # still declined
    assert _attempts()[-1] == (2, "failed", today + timedelta(days=3))
    keep_card(nia)  # the client puts a good card on file
    assert payments.run_autopay(today + timedelta(days=2)) == NOTHING
    assert payments.run_autopay(today + timedelta(days=3)) == {**NOTHING, "paid": 1}
    assert invoice.status == InvoiceStatus.PAID and payments.autopay_failures() == []
    assert [status for _n, status, _next in _attempts()] == ["failed", "failed", "succeeded"]
    assert len(outbox("payment-failed")) == 2 and count(Payment) == 1
    books_agree(nia)


def test_autopay_off_charges_nothing_and_required_charges_every_client_with_a_card(app, make, manager, nia, walk):
    today = business_today()
    [invoice] = bill(manager, nia, walk, 2500)
    ada = make.client(first_name="Ada", last_name="Byron")
    [other] = bill(manager, ada, walk, 3000, first_day=10)  # Ada has no card on file
    invoice.due_on = other.due_on = today
    keep_card(nia)  # Nia never turned autopay on
    assert payments.autopay_candidates(today) == [] and payments.run_autopay(today) == NOTHING
    get_settings().autopay_mode = "off"
    nia.autopay = True
    db.session.commit()
    assert payments.autopay_candidates(today) == [] and payments.run_autopay(today) == NOTHING
    get_settings().autopay_mode = "required"
    nia.autopay = False
    db.session.commit()
    assert payments.run_autopay(today) == {**NOTHING, "paid": 1}
    assert (invoice.status, other.status) == (InvoiceStatus.PAID, InvoiceStatus.SENT)
    assert count(AutopayAttempt) == 1
    books_agree(nia, ada)


# ---- Bank debits (ACH), through signed events ---------------------------------------------------------------

def _bank_debit(nia, invoice: Invoice, intent_id: str) -> OnlinePayment:
    """A bank debit on its way, as `start` leaves it when Stripe answers "processing" (localstripe has no ACH)."""
    online = OnlinePayment(client_id=nia.id, idempotency_key=f"test-{intent_id}", content_key=f"test-{intent_id}",
                           stripe_intent_id=intent_id, source="portal", status="processing",
                           amount_cents=invoice.due_cents, tip_cents=0, tip_refunded_cents=0,
                           plan=[[invoice.id, invoice.due_cents]], method_kind=cards.BANK,
                           method_label="STRIPE TEST BANK ending 6789", detach_after=False, failure_message="",
                           authorisation="", created_at=utcnow(), updated_at=utcnow())
    db.session.add(online)
    db.session.commit()
    return online


def _bank_intent(online: OnlinePayment, status: str, **changes) -> dict:
    return {"id": online.stripe_intent_id, "object": "payment_intent", "amount": online.charge_cents,
            "currency": "usd", "customer": online.client.stripe_customer_id, "status": status,
            "payment_method": "pm_bank", "payment_method_types": [cards.BANK],
            "metadata": {"pawtal_online_payment_id": str(online.id)}, **changes}


def test_a_bank_debit_is_pending_until_stripe_says_it_succeeded(app, client, manager, nia, walk):
    first, second = bill(manager, nia, walk, 2500, 4000)
    cards.ensure_customer(nia)
    online = _bank_debit(nia, first, "pi_bank_ok")
    answer = post_event(client, "evt_processing", "payment_intent.processing", _bank_intent(online, "processing"))
    assert answer.status_code == 200 and answer.json["outcome"] == "processing"
    assert [(row.invoice.id, row.cents) for row in payments.payable(nia.id)] == [(second.id, 4000)]
    assert payments.plan_for(nia.id, [first.id, second.id]) == [(second.id, 4000)]
    assert payments.pending_payments(nia.id) == [online]
    assert count(Payment) == 0 and entries(nia) == [("invoice", 2500), ("invoice", 4000)]

    # Stripe's word is believed only when it matches what was asked: a wrong amount is not recorded.
    wrong = post_event(client, "evt_wrong", "payment_intent.succeeded", _bank_intent(online, "succeeded", amount=1))
    assert wrong.status_code == 503
    db.session.expire_all()
    assert count(Payment) == 0 and db.session.get(StripeEvent, "evt_wrong") is None  # Stripe will send it again

    paid = _bank_intent(online, "succeeded")
    assert post_event(client, "evt_succeeded", "payment_intent.succeeded", paid).json["outcome"] == "succeeded"
    assert post_event(client, "evt_succeeded", "payment_intent.succeeded", paid).json["outcome"] == "duplicate"
    assert post_event(client, "evt_succeeded_2", "payment_intent.succeeded", paid).json["outcome"] == "succeeded"
    db.session.expire_all()
    [payment] = db.session.scalars(select(Payment)).all()
    assert (payment.method, payment.amount_cents, online.payment_id) == ("bank_debit", 2500, payment.id)
    assert entries(nia) == [("invoice", 2500), ("invoice", 4000), ("payment", -2500)]
    assert first.status == InvoiceStatus.PAID and payments.pending_payments(nia.id) == []
    assert len(outbox("receipt-payment")) == 1 and outbox("payment-failed") == []
    books_agree(nia)


def test_an_autopay_bank_debit_is_settled_or_retried_by_the_webhook(app, client, manager, nia, walk):
    today = business_today()
    paid, returned = bill(manager, nia, walk, 2500, 4000)
    cards.ensure_customer(nia)
    tries = []
    for invoice in (paid, returned):
        online = _bank_debit(nia, invoice, f"pi_autopay_{invoice.id}")
        online.source = "autopay"
        db.session.add(AutopayAttempt(invoice_id=invoice.id, attempt=1, status="pending", message="",
                                      online_payment_id=online.id))
        tries.append(online)
    db.session.commit()
    assert post_event(client, "evt_ok", "payment_intent.succeeded",
                      _bank_intent(tries[0], "succeeded")).json["outcome"] == "succeeded"
    assert post_event(client, "evt_returned", "payment_intent.payment_failed", _bank_intent(
        tries[1], "requires_payment_method", last_payment_error={"message": "Insufficient funds."})
    ).json["outcome"] == "failed"
    db.session.expire_all()
    assert _attempts() == [(1, "succeeded", None), (1, "failed", today + timedelta(days=1))]
    assert paid.status == InvoiceStatus.PAID and returned.status == InvoiceStatus.SENT
    [mail] = outbox("payment-failed")
    assert "Insufficient funds." in mail.body_text and "We will try again on" in mail.body_text
    books_agree(nia)


def test_a_bank_debit_that_fails_records_nothing_and_tells_the_client(app, client, manager, nia, walk):
    [invoice] = bill(manager, nia, walk, 2500)
    cards.ensure_customer(nia)
    online = _bank_debit(nia, invoice, "pi_bank_returned")
    assert payments.payable(nia.id) == []
    failed = _bank_intent(online, "requires_payment_method", last_payment_error={
        "code": "payment_method_provider_decline", "message": "The customer's bank account could not be located."})
    answer = post_event(client, "evt_failed", "payment_intent.payment_failed", failed)
    assert answer.status_code == 200 and answer.json["outcome"] == "failed"
    assert post_event(client, "evt_failed_2", "payment_intent.payment_failed", failed).json["outcome"] == "failed"
    db.session.expire_all()
    assert online.status == "failed"
    assert online.failure_message == "The bank debit did not go through: The customer's bank account could not be " \
                                     "located."  # not "Your card was declined"
    assert count(Payment) == 0 and entries(nia) == [("invoice", 2500)]
    assert [(row.invoice.id, row.cents) for row in payments.payable(nia.id)] == [(invoice.id, 2500)]  # due again
    [mail] = outbox("payment-failed")
    assert mail.recipients == ["nia@example.com"] and online.failure_message in mail.body_text
    assert "card" not in mail.body_text.lower()
    assert "due again" in mail.body_text
    books_agree(nia)
