"""Stripe's webhook: the only unsafe request without a CSRF token, because Stripe signs it."""
from __future__ import annotations

from flask import Blueprint, current_app, request

from access import public
from extensions import csrf
from rendering import perform
from services import cards

bp = Blueprint("stripe_hooks", __name__, url_prefix="/stripe")


@bp.post("/webhook")
@public
@csrf.exempt
def webhook():
    try:
        return perform(lambda: cards.handle_event(request.get_data(), request.headers.get("Stripe-Signature")),
                       lambda outcome: {"received": True, "outcome": outcome},
                       lambda duplicate: {"received": True, "outcome": duplicate.message})
    except ValueError as error:
        current_app.logger.warning("stripe webhook refused: %s", error)
        return {"error": "invalid signature or payload"}, 400
