"""Cards and bank accounts on file, through Stripe: customers, SetupIntents, and webhook events.

Pawtal keeps Stripe's ids and what the client is shown (brand or bank, last four, expiry); card
numbers go from the browser to Stripe (Stripe.js) and never reach Pawtal.
"""
from __future__ import annotations

import stripe
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from extensions import db
from filters import gettext as _
from models import ClientLogin, ClientProfile, PaymentMethod, SiteSettings, StripeEvent
from services import signals
from services.errors import DomainError
from services.settings import get_settings

BANK = "us_bank_account"


def stripe_configured() -> bool:
    config = current_app.config
    return bool(config["STRIPE_SECRET_KEY"] and config["STRIPE_PUBLISHABLE_KEY"])


def cards_available(settings: SiteSettings | None = None) -> bool:
    """Card features need Stripe keys and the switch on."""
    settings = settings or get_settings()
    return bool(settings.portal_cards and stripe_configured())


def client() -> stripe.StripeClient:
    config = current_app.config
    base = {"api": config["STRIPE_API_BASE"]} if config["STRIPE_API_BASE"] else {}
    return stripe.StripeClient(config["STRIPE_SECRET_KEY"], base_addresses=base, max_network_retries=1)


def load_method(method_id: int, viewer: ClientLogin) -> PaymentMethod | None:
    """A payment method on file of the viewer's own profile."""
    if viewer.is_staff:
        return None
    return db.session.scalar(select(PaymentMethod).where(PaymentMethod.id == method_id,
                                                         PaymentMethod.client_id == viewer.client_id))


def has_usable_method(profile: ClientProfile) -> bool:
    return any(m.usable for m in profile.payment_methods)


def ensure_customer(profile: ClientProfile) -> str:
    """The profile's Stripe Customer id, created on first use."""
    if profile.stripe_customer_id:
        return profile.stripe_customer_id
    emails = profile.primary_emails
    customer = _call(client().v1.customers.create, params={
        "name": profile.name, "email": emails[0] if emails else None,
        "metadata": {"pawtal_client_id": str(profile.id)}})
    profile.stripe_customer_id = customer.id
    db.session.flush()
    return customer.id


def start_setup(profile: ClientProfile, kind: str = "card", one_off: bool = False) -> str:
    """A SetupIntent for entering a card (or a US bank account); returns its client secret. A `one_off` card is
    for one payment only: it is never attached to the client's customer, so it can never replace the card on
    file (the card webhooks see no customer on it and leave it alone)."""
    customer = ensure_customer(profile)
    params = {"customer": customer, "payment_method_types": [kind], "usage": "off_session",
              "metadata": {"pawtal_client_id": str(profile.id)}}
    if one_off:
        params = {"payment_method_types": [kind], "usage": "on_session",
                  "metadata": {"pawtal_client_id": str(profile.id), "pawtal_one_off": "1"}}
    if kind == BANK:
        params["payment_method_options"] = {BANK: {"verification_method": "automatic"}}
    return _call(client().v1.setup_intents.create, params=params).client_secret


def finish_setup(profile: ClientProfile, setup_intent_id: str) -> PaymentMethod:
    """After Stripe.js confirmed a SetupIntent: check it is this client's, and keep its method on file."""
    method, waiting = confirmed_method(profile, setup_intent_id)
    # A bank account waiting for micro-deposits becomes usable when Stripe's webhook says it succeeded.
    return keep_method(profile, method, "pending" if waiting else "active")


def confirmed_method(profile: ClientProfile, setup_intent_id: str, one_off: bool = False) -> tuple[dict, bool]:
    """The PaymentMethod of a SetupIntent Stripe.js confirmed, once checked to be this client's (and attached
    to their customer, unless it is a one-off card); and whether it still waits for verification (a bank
    account). Whose it is comes from what Pawtal set on the SetupIntent (its customer, or for a one-off its
    metadata), never from the browser."""
    if not (setup_intent_id or "").startswith("seti_"):
        raise DomainError(_("The card was not confirmed. Please try again."))
    intent = _call(client().v1.setup_intents.retrieve, setup_intent_id)
    metadata = intent.metadata.to_dict() if intent.metadata else {}
    if one_off:
        mine = (intent.customer is None and metadata.get("pawtal_one_off") == "1"
                and metadata.get("pawtal_client_id") == str(profile.id))
    else:
        mine = bool(profile.stripe_customer_id) and intent.customer == profile.stripe_customer_id
    if not mine:
        raise DomainError(_("That card setup does not belong to this account."))
    waiting = intent.status in ("requires_action", "processing") and BANK in (intent.payment_method_types or [])
    if intent.status != "succeeded" and not waiting:
        raise DomainError(_("The card was not confirmed. Please try again."))
    method = _call(client().v1.payment_methods.retrieve, _id(intent.payment_method))
    if method.customer is None and not one_off:
        method = _call(client().v1.payment_methods.attach, method.id, params={"customer": profile.stripe_customer_id})
    return method.to_dict(), waiting


def keep_method(profile: ClientProfile, method: dict, status: str) -> PaymentMethod:
    """Record a Stripe PaymentMethod as the profile's method on file, replacing the previous one."""
    row = db.session.scalar(select(PaymentMethod).where(PaymentMethod.stripe_id == method["id"]))
    if row is None:
        row = PaymentMethod(client_id=profile.id, stripe_id=method["id"], kind=method["type"], status=status)
        db.session.add(row)
    elif row.status != "active":
        row.status = status
    _describe(row, method)
    _replace_others(profile, row)
    return row


def _replace_others(profile: ClientProfile, row: PaymentMethod) -> None:
    """A usable method replaces the profile's other methods, at Stripe too."""
    db.session.flush()
    if row.usable:
        for old in [m for m in profile.payment_methods if m.id != row.id]:
            detach_quietly(old.stripe_id)
            db.session.delete(old)
    signals.card_changed.send(profile)


def _describe(row: PaymentMethod, method: dict) -> None:
    if method["type"] == "card":
        card = method.get("card") or {}
        row.brand, row.last4 = card.get("brand") or "", card.get("last4") or ""
        row.exp_month, row.exp_year = card.get("exp_month"), card.get("exp_year")
    elif method["type"] == BANK:
        bank = method.get(BANK) or {}
        row.brand, row.last4 = bank.get("bank_name") or "", bank.get("last4") or ""


def remove_method(profile: ClientProfile, row: PaymentMethod) -> None:
    detach_quietly(row.stripe_id)
    db.session.delete(row)
    signals.card_changed.send(profile)


def detach_quietly(stripe_id: str) -> None:
    try:
        client().v1.payment_methods.detach(stripe_id)
    except stripe.StripeError as error:  # already detached or gone: nothing to undo
        current_app.logger.info("stripe: detach %s: %s", stripe_id, error)


def _call(method, *args, **kwargs):
    """Call Stripe; its failures become a message for the client, not a 500."""
    try:
        return method(*args, **kwargs)
    except stripe.StripeError as error:
        current_app.logger.warning("stripe: %s", error)
        raise DomainError(_("The card service did not answer as expected. Please try again in a moment.")) from None


def _id(value) -> str:
    return value if isinstance(value, str) else value["id"]


class DuplicateEvent(DomainError):
    """A webhook event already handled (Stripe retries and replays): nothing more to do."""

    def __init__(self):
        super().__init__("duplicate")  # the webhook's outcome for Stripe, a machine value: not translated


def handle_event(payload: bytes, signature: str | None) -> str:
    """Verify and apply a card event once; returns what happened. ValueError: refused."""
    event = receive_event(payload, signature)
    return _apply(event.type, event.data.object.to_dict())


def receive_event(payload: bytes, signature: str | None) -> stripe.Event:
    """Verify a webhook event's signature and note it as handled: a replay raises DuplicateEvent.
    ValueError: refused (no secret set, a bad signature or payload)."""
    secret = current_app.config["STRIPE_WEBHOOK_SECRET"]
    if not secret:
        raise ValueError("webhooks are not configured")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise ValueError(str(error)) from None
    if db.session.get(StripeEvent, event.id) is not None:
        raise DuplicateEvent()
    db.session.add(StripeEvent(id=event.id, type=event.type))
    try:
        db.session.flush()
    except IntegrityError:  # a replay racing this one: it loses here, and its request rolls back
        raise DuplicateEvent() from None
    return event


def apply_event(kind: str, obj: dict) -> str:
    return _apply(kind, obj)


def _profile_for(customer) -> ClientProfile | None:
    if not customer:
        return None
    return db.session.scalar(select(ClientProfile).where(ClientProfile.stripe_customer_id == _id(customer)))


def _apply(kind: str, obj: dict) -> str:
    if kind == "payment_method.attached":
        profile = _profile_for(obj.get("customer"))
        if profile is None:
            return "ignored"
        keep_method(profile, obj, "active" if obj["type"] == "card" else "pending")
        return "kept"
    if kind in ("payment_method.updated", "payment_method.automatically_updated"):
        row = db.session.scalar(select(PaymentMethod).where(PaymentMethod.stripe_id == obj["id"]))
        if row is None:
            return "ignored"
        _describe(row, obj)
        return "updated"
    if kind == "payment_method.detached":
        row = db.session.scalar(select(PaymentMethod).where(PaymentMethod.stripe_id == obj["id"]))
        if row is None:
            return "ignored"
        profile = db.session.get(ClientProfile, row.client_id)
        db.session.delete(row)
        signals.card_changed.send(profile)
        return "removed"
    if kind in ("setup_intent.succeeded", "setup_intent.requires_action", "setup_intent.setup_failed",
                "setup_intent.canceled"):
        profile = _profile_for(obj.get("customer"))
        method = obj.get("payment_method")
        if profile is None or not method:
            return "ignored"
        row = db.session.scalar(select(PaymentMethod).where(PaymentMethod.stripe_id == _id(method)))
        if kind == "setup_intent.succeeded":
            if row is None:
                method = method if isinstance(method, dict) else client().v1.payment_methods.retrieve(method).to_dict()
                keep_method(profile, method, "active")
            else:
                row.status = "active"
                _replace_others(profile, row)
            return "active"
        if kind == "setup_intent.requires_action":
            if row is None and isinstance(method, dict):
                keep_method(profile, method, "pending")
            return "pending"
        if row is not None and row.status != "active":  # failed or canceled before it was usable
            db.session.delete(row)
            signals.card_changed.send(profile)
        return "failed"
    return "ignored"
