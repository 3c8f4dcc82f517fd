"""Online payments through Stripe: the client pays invoices or the balance from the portal (a card or bank
account on file, or a new card), staff charge the card on file, autopay charges invoices on their due date;
refunds go back through Stripe; disputes are recorded.

Pawtal believes Stripe, not the browser. A payment becomes a `Payment` and a ledger entry only when the
PaymentIntent, as read from Stripe after confirmation or as sent by the signed webhook, says it succeeded,
and only once: `settle` sets `OnlinePayment.payment_id` with a conditional UPDATE, so the page's check and
the webhook cannot both record it.

A payment talks to Stripe between two commits. The `OnlinePayment` row is committed first under an
idempotency key derived from what is being paid, unique in the database: a double click, a retry or ten
posts at once find the row already there and create no second PaymentIntent. The same key goes to Stripe,
which answers a repeated create with the first PaymentIntent. Then Stripe is called, and what it says is
committed. A card declined records the failed attempt, never a payment.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta

import stripe
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from extensions import db
from filters import business_today, local_zone, money
from filters import gettext as _
from models import (
    OPEN_INVOICE, AutopayAttempt, ClientProfile, Invoice, InvoiceLine, LedgerEntry, OnlinePayment, Payment,
    PaymentMethod, StaffUser, StripeDispute, StripeRefund, Tip, Visit, as_utc, utcnow,
)
from services import billing, cards, emails
from services.errors import DomainError, FieldErrors
from services.settings import business, get_settings

PENDING = ("creating", "requires_action", "processing")
# An attempt left "creating" this long (the process died between the two commits) is asked of Stripe again,
# with the same idempotency key, instead of waiting for ever.
STALE = timedelta(minutes=2)
TIP_MAX_CENTS = 100_000
# The most Stripe takes in one charge ($999,999.99 in USD).
STRIPE_MAX_CENTS = 99_999_999


class Declined(DomainError):
    """Stripe refused the charge (a declined card, an authentication that failed): nothing was paid."""

    def __init__(self, message: str, online: OnlinePayment):
        super().__init__(message)
        self.online = online


class NothingDue(DomainError):
    """What the pay form showed was paid a moment ago (another tab, a second post): nothing more is charged."""


class AlreadyStarted(DomainError):
    """The same payment was started a moment ago (a double click, another tab): this is that one."""

    def __init__(self, online: OnlinePayment):
        super().__init__(_("This payment was already made.") if online.status == "succeeded"
                         else _("This payment is already under way."))
        self.online = online


def online_available(settings=None) -> bool:
    settings = settings or get_settings()
    return bool(settings.online_payments and cards.stripe_configured())


# ---- What is being paid ------------------------------------------------------------------------------------

def pending_by_invoice(client_id: int, leave_out: int | None = None) -> dict[int, int]:
    """What bank debits on their way (and charges being made this minute) will put on each invoice. A charge left
    "creating" longer than STALE (Stripe did not answer) no longer holds its invoices back."""
    pending: dict[int, int] = {}
    being_made = (OnlinePayment.status == "creating") & (OnlinePayment.updated_at > utcnow() - STALE)
    query = select(OnlinePayment.plan).where(OnlinePayment.client_id == client_id,
                                             (OnlinePayment.status == "processing") | being_made)
    if leave_out is not None:
        query = query.where(OnlinePayment.id != leave_out)
    for plan in db.session.scalars(query):
        for invoice_id, cents in plan or []:
            pending[invoice_id] = pending.get(invoice_id, 0) + cents
    return pending


@dataclass
class Payable:
    invoice: Invoice
    cents: int  # due now, less what is on its way


def payable(client_id: int) -> list[Payable]:
    """The client's open invoices, oldest first, with what can be paid on each now."""
    pending = pending_by_invoice(client_id)
    rows = [Payable(i, i.due_cents - pending.get(i.id, 0)) for i in billing.open_invoices(client_id)]
    return [row for row in rows if row.cents > 0]


def pending_payments(client_id: int) -> list[OnlinePayment]:
    """Bank debits on their way, shown to the client and staff as pending."""
    return list(db.session.scalars(select(OnlinePayment).where(OnlinePayment.client_id == client_id,
                                                               OnlinePayment.status == "processing")
                                   .order_by(OnlinePayment.id)))


def plan_for(client_id: int, invoice_ids: list[int]) -> list[tuple[int, int]]:
    """[(invoice id, cents)] for the chosen invoices, each for what can be paid on it now."""
    chosen = set(invoice_ids)
    return [(row.invoice.id, row.cents) for row in payable(client_id) if row.invoice.id in chosen]


def tip_cents(choice: str, other_cents: int | None, amount_cents: int) -> int:
    """The tip for a choice of the pay form: "none", a percentage offered, or "other" with an amount (in cents,
    as the form's money field read it in the business's locale)."""
    settings = get_settings()
    if not settings.tips_enabled or choice in ("", "none"):
        return 0
    if choice == "other":
        if other_cents is None or other_cents < 0:
            raise FieldErrors({"tip_other": _("Enter the tip as an amount, like %(example)s.", example=money(500))})
        if other_cents > TIP_MAX_CENTS:
            raise FieldErrors({"tip_other": _("A tip can be at most %(most)s.", most=money(TIP_MAX_CENTS))})
        return other_cents
    if choice.isdigit() and int(choice) in settings.tip_percents:
        return billing.percent_of(amount_cents, int(choice) * 100)
    raise FieldErrors({"tip": _("Choose a tip from the list.")})


# ---- Starting a payment ------------------------------------------------------------------------------------

def _content_key(client_id: int, source: str, plan: list[tuple[int, int]], amount: int, tip: int,
                 method: str, form_key: str = "") -> str:
    # With a form's own key the plan is left out: the first charge changes what is due, not what was asked.
    raw = json.dumps([client_id, source, [] if form_key else sorted([list(p) for p in plan]), amount, tip, method,
                      form_key])
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def start(client: ClientProfile, plan: list[tuple[int, int]], tip: int, method: dict | PaymentMethod, source: str,
          staff: StaffUser | None = None, authorisation: str = "", amount_cents: int | None = None,
          detach_after: bool = False, off_session: bool = False, form_key: str = "") -> OnlinePayment:
    """Charge `method` (a method on file, or a Stripe PaymentMethod dict entered for this payment) for the
    invoices in `plan` (and `amount_cents` in all, when more goes to credit) plus `tip`. Returns the attempt as
    Stripe left it: succeeded (settled), processing (a bank debit), requires_action (the page runs Stripe's
    check). Raises Declined (nothing paid) or AlreadyStarted (the same payment is under way, or done).
    `form_key` is the form's own key where the same amount may rightly be charged again later (staff charging
    the card on file): the same form sent twice is one charge, a new form another."""
    amount = sum(cents for _id, cents in plan) if amount_cents is None else amount_cents
    if amount <= 0:
        raise FieldErrors({"invoices": _("Choose at least one invoice with something to pay.")})
    if amount + tip > STRIPE_MAX_CENTS:
        raise FieldErrors({"amount" if amount_cents is not None else "invoices": _(
            "A card payment can be at most %(most)s; pay the rest another way.", most=money(STRIPE_MAX_CENTS))})
    stripe_method = method.stripe_id if isinstance(method, PaymentMethod) else method["id"]
    kind = method.kind if isinstance(method, PaymentMethod) else method["type"]
    label = method.label if isinstance(method, PaymentMethod) else _method_label(method)
    content = _content_key(client.id, source, plan, amount, tip, stripe_method, form_key)
    # Each attempt that ended makes the next one a new key: after a decline, or a refund, the same payment can be
    # made again. A form's own key is spent by its success (the same form sent again is not a new charge).
    ended = ("failed", "canceled") if form_key else ("failed", "canceled", "succeeded")
    tries = db.session.scalar(select(func.count()).where(OnlinePayment.content_key == content,
                                                         OnlinePayment.status.in_(ended)))
    online = OnlinePayment(client_id=client.id, idempotency_key=f"pawtal-{content}-{tries}", content_key=content,
                           source=source, status="creating", amount_cents=amount, tip_cents=tip, tip_refunded_cents=0,
                           plan=[list(p) for p in plan], method_kind=kind, method_label=label[:80],
                           detach_after=detach_after, failure_message="", created_by=staff,
                           authorisation=authorisation, created_at=utcnow(), updated_at=utcnow())
    db.session.add(online)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(select(OnlinePayment).where(
            OnlinePayment.idempotency_key == online.idempotency_key))
        if existing is None:
            raise
        if existing.status == "creating" and utcnow() - as_utc(existing.updated_at) > STALE:
            online = existing  # the process died after the first commit: ask Stripe again with the same key
        else:
            raise AlreadyStarted(existing) from None
    # Claimed; now what it pays must still be due, less what other payments under way will put on it: a plan read
    # before another payment of the same invoices succeeded (a second tab, a late second post) is refused here.
    if online.status == "creating" and not _plan_still_due(online):
        online.status, online.failure_message = "canceled", _("Those invoices were paid a moment ago.")
        db.session.commit()
        raise NothingDue(_("Those invoices were paid a moment ago; nothing more was charged."))
    if source == "portal":
        _cancel_abandoned(client.id, online.id)
        db.session.commit()
    params = {"amount": online.charge_cents, "currency": current_app.config["BUSINESS_CURRENCY"].lower(),
              "customer": cards.ensure_customer(client), "payment_method": stripe_method,
              "payment_method_types": [kind], "confirm": True,
              "metadata": {"pawtal_online_payment_id": str(online.id), "pawtal_client_id": str(client.id)}}
    if off_session:
        params["off_session"] = True
    try:
        intent = cards.client().v1.payment_intents.create(params=params,
                                                          options={"idempotency_key": online.idempotency_key})
    except stripe.CardError as error:
        intent = getattr(error, "error", None) and error.error.payment_intent
        if intent is not None and online.stripe_intent_id is None:
            online.stripe_intent_id = intent.id
        _fail(online, _decline_message(getattr(error, "user_message", None), online.method_kind))
        db.session.commit()
        raise Declined(online.failure_message, online) from None
    except (stripe.InvalidRequestError, stripe.AuthenticationError, stripe.PermissionError) as error:
        # Stripe refused the request itself: nothing was created there, so the attempt ends here.
        current_app.logger.warning("stripe: payment %s refused: %s", online.id, error)
        db.session.rollback()
        _fail(online, _("The card service refused this payment. Please try again, or pay another way."))
        db.session.commit()
        raise Declined(online.failure_message, online) from None
    except stripe.StripeError as error:
        # The outcome is unknown: the row stays "creating" (holding its invoices back for STALE), and a retry
        # asks Stripe again with the same idempotency key, which answers with what it made the first time.
        current_app.logger.warning("stripe: payment %s: %s", online.id, error)
        db.session.rollback()
        raise DomainError(_("The card service did not answer as expected. Please try again in a moment.")) from None
    absorb(online, intent.to_dict())
    if off_session and online.status == "requires_action":  # nobody is there to run the bank's check
        _fail(online, _("The bank wants the cardholder to confirm this payment; it can be paid from the portal."))
    db.session.commit()
    if online.status == "failed":
        raise Declined(online.failure_message, online)
    return online


def _method_label(method: dict) -> str:
    if method.get("type") == "card":
        card = method.get("card") or {}
        return _("%(brand)s ending %(last4)s", brand=(card.get("brand") or "").title(), last4=card.get("last4") or "")
    bank = method.get(cards.BANK) or {}
    return _("%(brand)s ending %(last4)s", brand=bank.get("bank_name") or _("Bank account"),
             last4=bank.get("last4") or "")


def _decline_message(reason: str | None, kind: str) -> str:
    """What the client is told when Stripe refused: Stripe's reason after ours, unless it says no more than ours
    (its generic decline is "Your card was declined."); a bank debit is not called a card."""
    reason = (reason or "").strip()
    if kind == cards.BANK:
        return _("The bank debit did not go through: %(reason)s", reason=reason) if reason \
            else _("The bank debit did not go through.")
    if not reason or reason.rstrip(".").lower() == "your card was declined":
        return _("Your card was declined.")
    return _("Your card was declined: %(reason)s", reason=reason)


def _fail(online: OnlinePayment, message: str) -> None:
    if online.status == "succeeded":
        return
    online.status = "failed"
    online.failure_message = message[:500]
    online.updated_at = utcnow()


# ---- What Stripe says --------------------------------------------------------------------------------------

def absorb(online: OnlinePayment, intent: dict) -> OnlinePayment:
    """Take in the PaymentIntent as Stripe reports it (read after confirmation, or from a webhook)."""
    if online.stripe_intent_id is None:
        online.stripe_intent_id = intent["id"]
    elif online.stripe_intent_id != intent["id"]:
        raise DomainError(_("That payment does not belong to this account."))
    status = intent.get("status")
    if status == "succeeded":
        settle(online, intent)
    elif online.status in ("succeeded", "failed", "canceled"):
        return online
    elif status == "processing":
        online.status = "processing"
    elif status in ("requires_action", "requires_confirmation"):
        online.status = "requires_action"
    elif status == "requires_payment_method":
        error = intent.get("last_payment_error") or {}
        _fail(online, _decline_message(error.get("message"), online.method_kind))
    elif status == "canceled":
        online.status = "canceled"
    online.updated_at = utcnow()
    return online


def client_secret(online: OnlinePayment) -> str | None:
    """The PaymentIntent's client secret, for Stripe.js to run the bank's check (3-D Secure) in the page; None
    when what it would pay is no longer due (paid another way, voided): then it is cancelled at Stripe."""
    intent = _retrieve(online)
    absorb(online, intent)
    if online.status == "requires_action" and not still_needed(online):
        cancel(online)
    return intent["client_secret"] if online.status == "requires_action" else None


def check(online: OnlinePayment) -> OnlinePayment:
    """Read the PaymentIntent from Stripe (after the page ran Stripe's check) and take in what it says. One still
    waiting for the bank's check whose invoices were paid another way since is cancelled, so it cannot pay twice."""
    if online.status in ("succeeded", "failed", "canceled") or not online.stripe_intent_id:
        return online
    absorb(online, _retrieve(online))
    if online.status == "requires_action" and not still_needed(online):
        cancel(online)
    return online


def _plan_still_due(online: OnlinePayment) -> bool:
    pending = pending_by_invoice(online.client_id, leave_out=online.id)
    for invoice_id, cents in online.plan or []:
        invoice = db.session.get(Invoice, invoice_id, populate_existing=True)
        due = invoice.due_cents if invoice is not None and invoice.status in OPEN_INVOICE else 0
        if due - pending.get(invoice_id, 0) < cents:
            return False
    return True


def still_needed(online: OnlinePayment) -> bool:
    """Whether each invoice the payment is for still has at least its share of it due."""
    for invoice_id, cents in online.plan or []:
        invoice = db.session.get(Invoice, invoice_id)
        if invoice is None or invoice.status not in OPEN_INVOICE or invoice.due_cents < cents:
            return False
    return True


def cancel(online: OnlinePayment) -> None:
    """Cancel a payment still waiting for the bank's check, at Stripe first (if it succeeded meanwhile, that wins)."""
    try:
        intent = cards.client().v1.payment_intents.cancel(online.stripe_intent_id).to_dict()
    except stripe.StripeError as error:
        current_app.logger.info("stripe: cancel %s: %s", online.stripe_intent_id, error)
        intent = _retrieve(online)
    absorb(online, intent)
    if online.status == "canceled":
        online.failure_message = _("This payment was cancelled: what it was for has been paid or changed.")


def _cancel_abandoned(client_id: int, keep_id: int) -> None:
    """A new payment from the portal ends the client's earlier ones left waiting for the bank's check (a tab
    closed halfway), so an old tab cannot pay the same invoices again."""
    for online in db.session.scalars(select(OnlinePayment).where(
            OnlinePayment.client_id == client_id, OnlinePayment.status == "requires_action",
            OnlinePayment.id != keep_id, OnlinePayment.stripe_intent_id.is_not(None))):
        try:
            cancel(online)
        except DomainError:
            continue


def _retrieve(online: OnlinePayment) -> dict:
    try:
        return cards.client().v1.payment_intents.retrieve(online.stripe_intent_id).to_dict()
    except stripe.StripeError as error:
        current_app.logger.warning("stripe: payment %s: %s", online.id, error)
        raise DomainError(_("The card service did not answer as expected. Please try again in a moment.")) from None


def settle(online: OnlinePayment, intent: dict) -> Payment | None:
    """Record a succeeded PaymentIntent once: the payment, its ledger entry, where it goes, the tip, a receipt.
    Returns None when it was already recorded (the other of the page's check and the webhook came first)."""
    client = db.session.get(ClientProfile, online.client_id)
    if (intent.get("amount") != online.charge_cents or (intent.get("currency") or "").upper()
            != current_app.config["BUSINESS_CURRENCY"].upper() or _id(intent.get("customer"))
            != client.stripe_customer_id):
        current_app.logger.error("stripe: payment %s does not match PaymentIntent %s", online.id, intent.get("id"))
        raise DomainError(_("That payment does not match what was asked; the office has been told."))
    billing.lock_client(online.client_id)
    won = db.session.execute(
        update(OnlinePayment).where(OnlinePayment.id == online.id, OnlinePayment.payment_id.is_(None))
        .values(status="succeeded", updated_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    db.session.refresh(online)
    if won != 1:
        return None
    staff = online.created_by
    payment = Payment(client_id=online.client_id, method="bank_debit" if online.method_kind == cards.BANK else "card",
                      reference=online.method_label, received_on=business_today(), amount_cents=online.amount_cents,
                      refunded_cents=0, allocated_cents=0, note=_note(online), created_by=staff, auto_apply=True)
    db.session.add(payment)
    entry = LedgerEntry(client_id=online.client_id, kind="payment", amount_cents=-online.amount_cents, payment=payment,
                        memo=f"{payment.method_label} {online.method_label}".strip()[:200], created_by=staff)
    db.session.add(entry)
    db.session.flush()
    online.payment_id = payment.id
    online.failure_message = ""
    for invoice_id, cents in online.plan or []:
        invoice = db.session.get(Invoice, invoice_id)
        take = min(cents, invoice.due_cents if invoice.status in OPEN_INVOICE else 0, payment.unallocated_cents)
        if take > 0:
            billing.allocate_amount(payment, invoice, take)
    billing.apply_credit(online.client_id)  # what the invoices did not take goes to the next ones, or stays credit
    if online.tip_cents:
        _record_tips(payment, online)
    if online.detach_after:
        cards.detach_quietly(_id(intent.get("payment_method")))
    emails.send_receipt_email(entry)
    return payment


def _note(online: OnlinePayment) -> str:
    if online.source == "staff" and online.authorisation:
        return _("Charged to the card on file; authorised by the client: %(how)s", how=online.authorisation)[:2000]
    return str(online.source_label)


def _record_tips(payment: Payment, online: OnlinePayment) -> None:
    """The tip goes to the sitters of the visits paid, split evenly (the first ones get the odd cents)."""
    invoice_ids = [invoice_id for invoice_id, _cents in online.plan or []]
    sitters = list(db.session.scalars(
        select(Visit.sitter_id).join(InvoiceLine, InvoiceLine.visit_id == Visit.id)
        .where(InvoiceLine.invoice_id.in_(invoice_ids), Visit.sitter_id.is_not(None))
        .group_by(Visit.sitter_id).order_by(func.min(Visit.starts_at)))) if invoice_ids else []
    if not sitters:
        db.session.add(Tip(payment=payment, sitter_id=None, amount_cents=online.tip_cents))
        return
    share, odd = divmod(online.tip_cents, len(sitters))
    for n, sitter_id in enumerate(sitters):
        cents = share + (1 if n < odd else 0)
        if cents:
            db.session.add(Tip(payment=payment, sitter_id=sitter_id, amount_cents=cents))


def _id(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.get("id")


# ---- The webhook -------------------------------------------------------------------------------------------

def _online_for(intent: dict) -> OnlinePayment | None:
    online = db.session.scalar(select(OnlinePayment).where(OnlinePayment.stripe_intent_id == intent["id"]))
    if online is None:  # the webhook came before the page recorded the PaymentIntent's id
        ref = (intent.get("metadata") or {}).get("pawtal_online_payment_id", "")
        online = db.session.get(OnlinePayment, int(ref)) if ref.isdigit() else None
        if online is not None and online.stripe_intent_id not in (None, intent["id"]):
            return None
    return online


def apply_event(kind: str, obj: dict) -> str | None:
    """Apply a payment event; None when the event is not a payment's (the card events are cards'). """
    if kind in ("payment_intent.succeeded", "payment_intent.processing", "payment_intent.payment_failed",
                "payment_intent.canceled", "payment_intent.requires_action"):
        online = _online_for(obj)
        if online is None:
            return "ignored"
        was = online.status
        if kind == "payment_intent.payment_failed":
            obj = {**obj, "status": "requires_payment_method"}
        absorb(online, obj)
        if online.status == "failed" and was != "failed":
            _after_failure(online, bank=was == "processing")
        elif online.status == "succeeded" and online.source == "autopay":
            for attempt in db.session.scalars(select(AutopayAttempt).where(
                    AutopayAttempt.online_payment_id == online.id, AutopayAttempt.status == "pending")):
                attempt.status = "succeeded"
        return online.status
    if kind == "charge.refunded":
        return refunds_from_stripe(obj)
    if kind.startswith("charge.dispute."):
        return _dispute(obj)
    return None


def _after_failure(online: OnlinePayment, bank: bool) -> None:
    """A bank debit that failed (it was pending: nothing was recorded, the invoices are due again) or an
    autopay charge that failed: the client is emailed a link to pay."""
    attempt = db.session.scalar(select(AutopayAttempt).where(AutopayAttempt.online_payment_id == online.id))
    if attempt is not None:
        _attempt_failed(attempt, online.failure_message)
    elif bank:
        emails.send_payment_failed_email(online, autopay=False)


def _dispute(obj: dict) -> str:
    """A dispute Stripe reports (created, updated, funds withdrawn, closed): recorded once, its status kept."""
    known = db.session.get(StripeDispute, obj["id"])
    if known is not None:
        known.status = (obj.get("status") or known.status)[:40]
        return "dispute " + known.status
    intent_id = _id(obj.get("payment_intent"))
    online = db.session.scalar(select(OnlinePayment).where(OnlinePayment.stripe_intent_id == intent_id)) \
        if intent_id else None
    db.session.add(StripeDispute(id=obj["id"], payment_id=online.payment_id if online else None,
                                 client_id=online.client_id if online else None, amount_cents=obj.get("amount") or 0,
                                 reason=(obj.get("reason") or "")[:60], status=(obj.get("status") or "")[:40]))
    return "dispute"


def disputes(limit: int = 20) -> list[StripeDispute]:
    return list(db.session.scalars(select(StripeDispute).options(selectinload(StripeDispute.client))
                                   .order_by(StripeDispute.created_at.desc()).limit(limit)))


# ---- Refunds -----------------------------------------------------------------------------------------------

def refund(payment: Payment, amount_cents: int | None, note: str, staff: StaffUser) -> LedgerEntry | None:
    """Refund part or all of a card or bank payment through Stripe, never more than is left (the tip last).
    The caps are conditional UPDATEs taken before Stripe is called, inside the request's transaction, so two
    refunds at once cannot both pass; if Stripe refuses, the request rolls back and nothing is recorded."""
    online = payment.online
    if online is None:
        return billing.refund_payment(payment, amount_cents, note, staff)
    errors: dict[str, str] = {}
    billing.check_amount(amount_cents, errors)
    if errors:
        raise FieldErrors(errors)
    billing.lock_client(payment.client_id)
    db.session.refresh(payment)
    db.session.refresh(online)
    left = payment.refundable_cents
    if amount_cents > left:
        raise FieldErrors({"amount": _("Only %(left)s of this payment is left to refund.", left=money(left))})
    account_part = min(amount_cents, payment.amount_cents - payment.refunded_cents)
    tip_part = amount_cents - account_part
    if tip_part:
        won = db.session.execute(
            update(OnlinePayment).where(OnlinePayment.id == online.id,
                                        OnlinePayment.tip_refunded_cents + tip_part <= OnlinePayment.tip_cents)
            .values(tip_refunded_cents=OnlinePayment.tip_refunded_cents + tip_part)
            .execution_options(synchronize_session=False)).rowcount
        if won != 1:
            raise FieldErrors({"amount": _("Another refund of this payment was made a moment ago; check what is left.")})
    entry = None
    if account_part:
        entry = billing.refund_payment(payment, account_part, note, staff, send_receipt=False)
    try:
        made = cards.client().v1.refunds.create(
            params={"payment_intent": online.stripe_intent_id, "amount": amount_cents,
                    "metadata": {"pawtal_payment_id": str(payment.id)}},
            options={"idempotency_key": f"pawtal-refund-{payment.id}-{payment.refunded_cents}-"
                                        f"{online.tip_refunded_cents}-{amount_cents}"})
    except stripe.StripeError as error:
        current_app.logger.warning("stripe: refund of payment %s: %s", payment.id, error)
        raise DomainError(_("Stripe did not make the refund: %(reason)s",
                            reason=getattr(error, "user_message", None) or _("please try again in a moment."))) \
            from None
    db.session.add(StripeRefund(id=made.id, payment_id=payment.id, amount_cents=amount_cents,
                                ledger_entry_id=entry.id if entry else None))
    db.session.flush()
    if entry is not None:  # a refund of the tip alone is not on the account: no receipt of the account
        emails.send_receipt_email(entry, tip_refunded_cents=tip_part)
    return entry


def refunds_from_stripe(charge: dict) -> str:
    """`charge.refunded`: refunds made in Stripe's dashboard are recorded; ones made in Pawtal are known."""
    online = db.session.scalar(select(OnlinePayment).where(
        OnlinePayment.stripe_intent_id == _id(charge.get("payment_intent"))))
    if online is None or online.payment_id is None:
        return "ignored"
    payment = db.session.get(Payment, online.payment_id)
    refunds = (charge.get("refunds") or {}).get("data")
    if refunds is None:
        try:
            refunds = [r.to_dict() for r in cards.client().v1.refunds.list(params={"charge": charge["id"]}).data]
        except stripe.StripeError as error:
            current_app.logger.warning("stripe: refunds of %s: %s", charge["id"], error)
            raise DomainError(_("The card service did not answer as expected.")) from None
    recorded = 0
    # Locked first: a refund made in Pawtal that Stripe reports before its request committed is known after it.
    billing.lock_client(payment.client_id)
    for made in refunds:
        if made.get("status") not in (None, "succeeded", "pending") or db.session.get(StripeRefund, made["id"]):
            continue
        db.session.refresh(payment)
        db.session.refresh(online)
        account_part = min(made["amount"], payment.amount_cents - payment.refunded_cents)
        tip_part = min(made["amount"] - account_part, online.tip_cents - online.tip_refunded_cents)
        online.tip_refunded_cents += tip_part
        entry = billing.refund_payment(payment, account_part, _("Refunded in Stripe"), None, send_receipt=True) \
            if account_part > 0 else None
        db.session.add(StripeRefund(id=made["id"], payment_id=payment.id, amount_cents=made["amount"],
                                    ledger_entry_id=entry.id if entry else None))
        db.session.flush()
        recorded += 1
    return "refunded" if recorded else "known"


# ---- Staff charge the card on file -------------------------------------------------------------------------

def charge_on_file(client: ClientProfile, amount_cents: int | None, authorisation: str, staff: StaffUser,
                   form_key: str = "") -> OnlinePayment:
    """Staff take a payment with the client's card on file, recording who did it and how the client
    authorised it. It goes to the open invoices, oldest first; more than is due stays as credit."""
    errors: dict[str, str] = {}
    billing.check_amount(amount_cents, errors)
    authorisation = " ".join((authorisation or "").split())
    if not authorisation:
        errors["authorisation"] = _("Say how the client authorised this charge (when, and how they told you).")
    elif len(authorisation) > 500:
        errors["authorisation"] = _("Keep it under 500 characters.")
    method = next((m for m in client.payment_methods if m.usable), None)
    if method is None:
        errors["amount"] = _("This client has no usable card or bank account on file.")
    if errors:
        raise FieldErrors(errors)
    plan, left = [], amount_cents
    for row in payable(client.id):
        take = min(left, row.cents)
        if take > 0:
            plan.append((row.invoice.id, take))
            left -= take
    return start(client, plan, 0, method, "staff", staff=staff, authorisation=authorisation,
                 amount_cents=amount_cents, off_session=True, form_key=form_key)


# ---- Autopay -----------------------------------------------------------------------------------------------

def autopay_text(client: ClientProfile, method: PaymentMethod | None) -> str:
    """The words a client agrees to when turning autopay on; kept with their consent."""
    return _("I authorise %(business)s to charge %(method)s for each invoice on its due date, for the amount due "
             "on it. If a charge fails it is tried again %(retries)s. I can turn autopay off on my account page at "
             "any time, and it stops for the invoices not yet charged.",
             business=_business_name(), method=method.label if method else _("my card on file"),
             retries=_retry_words())


def _business_name() -> str:
    return business().name


def _retry_words() -> str:
    days = get_settings().autopay_retry_days or []
    if not days:
        return _("never")
    return _("%(days)s days later", days=", ".join(str(d) for d in days))


def autopay_on(client: ClientProfile) -> bool:
    mode = get_settings().autopay_mode
    return mode == "required" or (mode == "offered" and client.autopay)


def set_autopay(client: ClientProfile, on: bool) -> None:
    settings = get_settings()
    if settings.autopay_mode == "off":
        raise DomainError(_("Autopay is not offered."))
    if settings.autopay_mode == "required" and not on:
        raise DomainError(_("%(business)s charges invoices to the card on file on their due date; autopay cannot "
                            "be turned off.", business=_business_name()))
    method = next((m for m in client.payment_methods if m.usable), None)
    if on and method is None:
        raise DomainError(_("Put a card or bank account on file first."))
    client.autopay = on
    if on:
        client.autopay_consent_at = utcnow()
        client.autopay_consent_text = autopay_text(client, method)


def autopay_candidates(today: date) -> list[Invoice]:
    """Open invoices due by `today` of clients with autopay on and a usable method on file, not charged yet
    or whose last failed try is due again."""
    mode = get_settings().autopay_mode
    if mode == "off" or not online_available():
        return []
    has_method = select(PaymentMethod.id).where(PaymentMethod.client_id == Invoice.client_id,
                                                PaymentMethod.status == "active").exists()
    query = (select(Invoice).join(ClientProfile, ClientProfile.id == Invoice.client_id)
             .where(Invoice.status.in_(OPEN_INVOICE), Invoice.due_on <= today, has_method)
             .order_by(Invoice.due_on, Invoice.id))
    if mode == "offered":
        query = query.where(ClientProfile.autopay.is_(True))
    found = []
    for invoice in db.session.scalars(query.options(selectinload(Invoice.client))):
        # The client agreed to have invoices charged on their due date: one already overdue when they agreed is
        # not charged by itself (they pay it, or staff charge it with their say-so).
        agreed = invoice.client.autopay_consent_at
        if mode == "offered" and agreed is not None and invoice.due_on < _local_day(agreed):
            continue
        if _try_due(_last_attempt(invoice.id), today):
            found.append(invoice)
    return found


def _local_day(moment) -> date:
    return as_utc(moment).astimezone(local_zone()).date()


def _last_attempt(invoice_id: int) -> AutopayAttempt | None:
    return db.session.scalar(select(AutopayAttempt).where(AutopayAttempt.invoice_id == invoice_id)
                             .order_by(AutopayAttempt.attempt.desc()).limit(1))


def _try_due(last: AutopayAttempt | None, today: date) -> bool:
    """Whether an invoice whose last try is `last` is to be tried `today`: never tried, or failed and due again."""
    return last is None or (last.status == "failed" and last.next_try_on is not None and last.next_try_on <= today)


def run_autopay(today: date | None = None) -> dict[str, int]:
    """Charge every invoice due today (and failed ones due a retry) to the card on file, off-session. Each try
    is claimed by inserting its (invoice, attempt) row first: two runs at once never charge an invoice twice."""
    today = today or business_today()
    counts = {"paid": 0, "pending": 0, "failed": 0, "skipped": 0}
    for invoice_id in [i.id for i in autopay_candidates(today)]:
        invoice = db.session.get(Invoice, invoice_id)
        client = db.session.get(ClientProfile, invoice.client_id, populate_existing=True)
        method = next((m for m in client.payment_methods if m.usable), None)
        due = next((row.cents for row in payable(client.id) if row.invoice.id == invoice_id), 0)
        # Nothing to charge now (autopay turned off since the list was made, the card gone, a bank payment for it on
        # its way): no try is used, and the invoice is looked at again on the next run.
        if not autopay_on(client) or method is None or due <= 0:
            counts["skipped"] += 1
            continue
        # The try claimed is the one listed: if another run tried the invoice since, it is not due any more (a
        # claim of "the next try" would charge a declined card twice in a minute and use up a retry day).
        last = _last_attempt(invoice_id)
        if not _try_due(last, today):
            counts["skipped"] += 1
            continue
        attempt = AutopayAttempt(invoice_id=invoice_id, attempt=(last.attempt if last else 0) + 1, status="charging",
                                 message="")
        db.session.add(attempt)
        try:
            db.session.commit()
        except IntegrityError:  # another run claimed this try
            db.session.rollback()
            counts["skipped"] += 1
            continue
        try:
            online = start(client, [(invoice_id, due)], 0, method, "autopay", off_session=True)
        except NothingDue:  # paid another way a moment ago: this try was not used
            db.session.rollback()
            db.session.delete(db.session.get(AutopayAttempt, attempt.id))
            db.session.commit()
            counts["skipped"] += 1
            continue
        except Declined as declined:
            attempt.online_payment_id = declined.online.id
            _attempt_failed(attempt, declined.message, today)
            db.session.commit()
            counts["failed"] += 1
            continue
        except DomainError as error:
            db.session.rollback()
            attempt = db.session.get(AutopayAttempt, attempt.id)
            _attempt_failed(attempt, error.message, today)
            db.session.commit()
            counts["failed"] += 1
            continue
        attempt.online_payment_id = online.id
        if online.status == "succeeded":
            attempt.status = "succeeded"
            counts["paid"] += 1
        elif online.status == "processing":
            attempt.status = "pending"
            counts["pending"] += 1
        else:  # the bank wants the client there (3-D Secure): off-session, that is a failure to tell them of
            _fail(online, _("Your bank asked you to confirm the payment."))
            _attempt_failed(attempt, online.failure_message, today)
            counts["failed"] += 1
        db.session.commit()
    return counts


def _attempt_failed(attempt: AutopayAttempt, message: str, today: date | None = None) -> None:
    """A failed try: the next one is planned by the site's retry days, and the client is emailed a link to pay."""
    days = sorted(get_settings().autopay_retry_days or [])
    attempt.status = "failed"
    attempt.message = (message or "")[:500]
    # The retry days count from the first failure: with 1, 3, 7 the tries after it are 1, 3 and 7 days later.
    n = attempt.attempt
    attempt.next_try_on = (today or business_today()) + timedelta(days=days[n - 1] - (days[n - 2] if n >= 2 else 0)) \
        if n - 1 < len(days) else None
    online = attempt.online_payment
    if online is not None:
        emails.send_payment_failed_email(online, autopay=True, next_try_on=attempt.next_try_on)


def autopay_failures(limit: int = 20) -> list[AutopayAttempt]:
    """The last failed try of each invoice still open: what staff see on the billing desk."""
    latest = (select(AutopayAttempt.invoice_id, func.max(AutopayAttempt.attempt).label("attempt"))
              .group_by(AutopayAttempt.invoice_id).subquery())
    return list(db.session.scalars(
        select(AutopayAttempt).join(latest, (latest.c.invoice_id == AutopayAttempt.invoice_id)
                                    & (latest.c.attempt == AutopayAttempt.attempt))
        .join(Invoice, Invoice.id == AutopayAttempt.invoice_id)
        .where(AutopayAttempt.status == "failed", Invoice.status.in_(OPEN_INVOICE))
        .options(selectinload(AutopayAttempt.invoice).selectinload(Invoice.client))
        .order_by(AutopayAttempt.created_at.desc()).limit(limit)))


# ---- Reading -----------------------------------------------------------------------------------------------

def recent_for(client_id: int, invoice_ids: list[int]) -> OnlinePayment | None:
    """The client's payment of any of these invoices made or started in the last minutes (a double click's first
    click, another tab), to show instead of a form that no longer offers them."""
    wanted = set(invoice_ids)
    for online in db.session.scalars(select(OnlinePayment).where(
            OnlinePayment.client_id == client_id, OnlinePayment.created_at > utcnow() - STALE,
            OnlinePayment.status.not_in(("failed", "canceled"))).order_by(OnlinePayment.id.desc()).limit(10)):
        if wanted & {invoice_id for invoice_id, _cents in online.plan or []}:
            return online
    return None


def load_online(online_id: int, client_id: int) -> OnlinePayment | None:
    """One of the client's own online payments (another client's id is not found)."""
    return db.session.scalar(select(OnlinePayment).where(OnlinePayment.id == online_id,
                                                         OnlinePayment.client_id == client_id))


def receipt_entry(online: OnlinePayment) -> LedgerEntry | None:
    if online.payment_id is None:
        return None
    return db.session.scalar(select(LedgerEntry).where(LedgerEntry.payment_id == online.payment_id,
                                                       LedgerEntry.kind == "payment"))


def handle_webhook(payload: bytes, signature: str | None) -> str:
    """Stripe's webhook: verified, noted once (a replay is a DuplicateEvent), then applied."""
    event = cards.receive_event(payload, signature)
    obj = event.data.object.to_dict()
    outcome = apply_event(event.type, obj)
    return outcome if outcome is not None else cards.apply_event(event.type, obj)
