"""Stripe's webhook: the only unsafe request without a CSRF token, because Stripe signs it."""
from __future__ import annotations

from flask import Blueprint, current_app, request

from access import public
from extensions import csrf
from rendering import perform
from services import payments
from services.cards import DuplicateEvent

bp = Blueprint("stripe_hooks", __name__, url_prefix="/stripe")


@bp.post("/webhook")
@public
@csrf.exempt
def webhook():
    try:
        return perform(lambda: payments.handle_webhook(request.get_data(), request.headers.get("Stripe-Signature")),
                       lambda outcome: {"received": True, "outcome": outcome},
                       refused)
    except ValueError as error:
        current_app.logger.warning("stripe webhook refused: %s", error)
        return {"error": "invalid signature or payload"}, 400


def refused(error):
    """A replay is answered 200 (already done); anything else undone is answered 503, so Stripe sends the event
    again later (its row was rolled back with the rest)."""
    if isinstance(error, DuplicateEvent):
        return {"received": True, "outcome": error.message}
    current_app.logger.warning("stripe webhook not applied: %s", error.message)
    return {"received": False, "error": "not applied; send again later"}, 503
