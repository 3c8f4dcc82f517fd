"""Site options (owner and manager): registration, card on file, field rules."""
from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField
from wtforms.validators import InputRequired, NumberRange

from access import manager_required
from rendering import done, render_page
from services import settings as site
from services.settings import CLIENT_FIELDS, NOT_REQUIRABLE, PET_FIELDS, RULE_CHOICES

bp = Blueprint("settings", __name__, url_prefix="/settings")


class OptionsForm(FlaskForm):
    clients_can_register = BooleanField("Clients can create their own account")
    billing_requires_card = BooleanField("Billing requires a card on file",
                                         description="Clients then put a card on file while getting started.")
    accept_bank_accounts = BooleanField("Accept US bank accounts (ACH) as well as cards")
    cancellation_hours = IntegerField(
        "Late cancellation window, in hours",
        validators=[InputRequired(message="Enter a number of hours, 0 for none."),
                    NumberRange(0, 720, message="Enter a number of hours from 0 to 720.")],
        description="A client who cancels a booked visit less than this many hours before it starts makes a late "
                    "cancellation, and you are told.")


for _name, _label in site.PORTAL_FEATURES.items():
    setattr(OptionsForm, _name, BooleanField(_label))


def _context(form: OptionsForm, client_rules: dict, pet_rules: dict, errors: list | None = None) -> dict:
    from services.onboarding import stripe_configured

    return {"form": form, "client_fields": CLIENT_FIELDS, "pet_fields": PET_FIELDS, "client_rules": client_rules,
            "pet_rules": pet_rules, "choices": RULE_CHOICES, "not_requirable": NOT_REQUIRABLE, "errors": errors or [],
            "features": site.PORTAL_FEATURES, "stripe_configured": stripe_configured()}


@bp.get("/")
@manager_required
def index():
    options = site.get_settings()
    form = OptionsForm(obj=options)
    return render_page("settings/index.html", "settings/_form.html",
                       **_context(form, site.rules_for("client"), site.rules_for("pet")))


@bp.post("/")
@manager_required
def update():
    form = OptionsForm()
    client_rules = {k: request.form.get(f"client-{k}", site.OPTIONAL) for k in CLIENT_FIELDS}
    pet_rules = {k: request.form.get(f"pet-{k}", site.OPTIONAL) for k in PET_FIELDS}
    bad = [k for k, v in {**client_rules, **pet_rules}.items() if v not in RULE_CHOICES]
    if form.validate_on_submit() and not bad:
        site.update_settings(form.clients_can_register.data, form.billing_requires_card.data, client_rules, pet_rules,
                             {name: form[name].data for name in site.PORTAL_FEATURES},
                             form.accept_bank_accounts.data, form.cancellation_hours.data)
        return done("Site options saved.", url_for("settings.index"), "settings/_form.html",
                    **_context(form, site.rules_for("client"), site.rules_for("pet")))
    return render_page("settings/index.html", "settings/_form.html", status=422,
                       **_context(form, client_rules, pet_rules, [f"Choose a rule for {k}." for k in bad]))
