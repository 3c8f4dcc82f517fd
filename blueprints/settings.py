"""Site options (owner and manager): registration, card on file, field rules."""
from __future__ import annotations

from flask import Blueprint, request, url_for

from access import manager_required
from filters import gettext as _
from forms.settings import OptionsForm
from models import PORTAL_FEATURES
from rendering import done, render_page
from services import settings as site
from services.cards import stripe_configured
from services.settings import CLIENT_FIELDS, NOT_REQUIRABLE, PET_FIELDS, RULE_CHOICES

bp = Blueprint("settings", __name__, url_prefix="/settings")


def _context(form: OptionsForm, client_rules: dict, pet_rules: dict, errors: list | None = None) -> dict:
    return {"form": form, "client_fields": CLIENT_FIELDS, "pet_fields": PET_FIELDS, "client_rules": client_rules,
            "pet_rules": pet_rules, "choices": RULE_CHOICES, "not_requirable": NOT_REQUIRABLE, "errors": errors or [],
            "features": PORTAL_FEATURES, "stripe_configured": stripe_configured()}


@bp.get("/")
@manager_required
def index():
    form = OptionsForm(obj=site.get_settings())
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
                             {name: form[name].data for name in PORTAL_FEATURES},
                             form.accept_bank_accounts.data, form.cancellation_hours.data,
                             {name: form[name].data for name in site.VISIT_OPTIONS})
        return done(_("Site options saved."), url_for("settings.index"), "settings/_form.html",
                    **_context(form, site.rules_for("client"), site.rules_for("pet")))
    errors = [_("Choose a rule for %(field)s.", field=k) for k in bad]
    return render_page("settings/index.html", "settings/_form.html", status=422,
                       **_context(form, client_rules, pet_rules, errors))
