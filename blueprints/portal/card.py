"""Card on file: entering a card or bank account through Stripe.js, and removing it."""
from __future__ import annotations

from flask import abort, request, url_for
from flask_wtf import FlaskForm

from access import client_required, feature_required, method_or_404, my_client
from blueprints.portal.base import bp, from_widget, portal_context
from filters import gettext as _
from rendering import done, perform, render_page
from services import cards
from services.settings import get_settings


@bp.get("/card")
@client_required
@feature_required("cards")
def card():
    return render_page("portal/card.html", "portal/_card.html", **portal_context(my_client()))


@bp.post("/card/setup")
@client_required
@feature_required("cards")
def start_card_setup():
    """Start entering a card (or a bank account): a SetupIntent, and the entry form for Stripe.js."""
    client = my_client()
    kind = "us_bank_account" if request.form.get("kind") == "us_bank_account" else "card"
    if kind == "us_bank_account" and not get_settings().accept_bank_accounts:
        abort(404)
    entry = {"card-entry": "portal/_card_entry.html"}
    return perform(lambda: cards.start_setup(client, kind),
                   lambda secret: render_page("portal/card.html", entry, client_secret=secret, kind=kind,
                                              widget=from_widget(), **portal_context(my_client())),
                   lambda error: render_page("portal/card.html", entry, status=502, entry_error=error.message,
                                             **portal_context(my_client())))


@bp.post("/card/confirm")
@client_required
@feature_required("cards")
def confirm_card():
    if not FlaskForm().validate_on_submit():
        abort(400)
    back = url_for("portal.index" if from_widget() else "portal.card")

    def kept(method):
        return done(_("Saved your %(method)s.", method=method.label) if method.usable
                    else _("Saved your %(method)s; it can be used once it is verified.", method=method.label), back)

    return perform(lambda: cards.finish_setup(my_client(), request.form.get("setup_intent", "")), kept,
                   lambda error: done(error.message, back, category="error"))


@bp.post("/card/<int:method_id>/remove")
@client_required
@feature_required("cards")
def remove_card(method_id: int):
    method = method_or_404(method_id)
    label = method.label
    cards.remove_method(my_client(), method)
    return done(_("Removed your %(method)s.", method=label), url_for("portal.card"), "portal/_card.html",
                **portal_context(my_client()))
