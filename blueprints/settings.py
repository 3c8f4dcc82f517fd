"""Site options (owner and manager): the business's details and logo, billing, registration, card on file, field
rules. Each section is a form of its own, saved on its own; the page shows them all."""
from __future__ import annotations

from flask import Blueprint, abort, request, send_file, url_for

from access import manager_required, public
from filters import gettext as _
from forms.settings import BillingForm, BusinessForm, FaqForm, OptionsForm
from models import PORTAL_FEATURES
from rendering import done, render_page, submit
from services import settings as site
from services.cards import stripe_configured
from services.settings import CLIENT_FIELDS, NOT_REQUIRABLE, PET_FIELDS, RULE_CHOICES

bp = Blueprint("settings", __name__, url_prefix="/settings")

# A stored logo's name changes with each upload: a browser may keep it for as long as it likes.
LOGO_CACHE = "public, max-age=31536000, immutable"


def _context(form: OptionsForm | None = None, client_rules: dict | None = None, pet_rules: dict | None = None,
             errors: list | None = None, business_form: BusinessForm | None = None,
             billing_form: BillingForm | None = None, faq_form: FaqForm | None = None) -> dict:
    """The whole page: the form that was sent as it was sent, the others as they are stored."""
    stored = site.get_settings()
    return {"form": form or OptionsForm(formdata=None, obj=stored), "client_fields": CLIENT_FIELDS,
            "pet_fields": PET_FIELDS, "client_rules": client_rules or site.rules_for("client"),
            "pet_rules": pet_rules or site.rules_for("pet"), "choices": RULE_CHOICES, "not_requirable": NOT_REQUIRABLE,
            "errors": errors or [], "features": PORTAL_FEATURES, "stripe_configured": stripe_configured(),
            "business_form": business_form or BusinessForm.of(site.business()),
            "billing_form": billing_form or BillingForm.of(stored),
            "faq_form": faq_form or FaqForm(formdata=None, obj=stored)}


@bp.get("/")
@manager_required
def index():
    return render_page("settings/index.html", "settings/_form.html", **_context())


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


@bp.post("/business")
@manager_required
def update_business():
    form = BusinessForm()
    return submit(form, lambda: site.update_business(form.details(), form.logo.data, form.remove_logo.data),
                  lambda _business: done(_("Business details saved."), url_for("settings.index"),
                                         "settings/_business.html", business_form=BusinessForm.of(site.business()),
                                         saved=True),
                  lambda status: render_page("settings/index.html", "settings/_business.html", status=status,
                                             **_context(business_form=form)))


@bp.post("/billing")
@manager_required
def update_billing():
    form = BillingForm()
    return submit(form, lambda: site.update_billing(form.options()),
                  lambda stored: done(_("Billing options saved."), url_for("settings.index"), "settings/_billing.html",
                                      billing_form=BillingForm.of(stored), stripe_configured=stripe_configured()),
                  lambda status: render_page("settings/index.html", "settings/_billing.html", status=status,
                                             **_context(billing_form=form)),
                  aliases={"tax_rate_bp": "tax_rate"})


@bp.post("/faq")
@manager_required
def update_faq():
    form = FaqForm()
    return submit(form, lambda: site.update_faq(form.faq_markdown.data, form.first_time_passwords.data,
                                                form.intake_enabled.data, form.intake_title.data,
                                                form.contact_enabled.data),
                  lambda stored: done(_("FAQ, account, intake and contact options saved."), url_for("settings.index"),
                                      "settings/_faq.html", faq_form=FaqForm(formdata=None, obj=stored)),
                  lambda status: render_page("settings/index.html", "settings/_faq.html", status=status,
                                             **_context(faq_form=form)))


@bp.get("/logo/<logo_name>")
@public
def logo(logo_name: str):
    """The business's logo: its public branding, by the random name it is stored under (a new name each upload)."""
    path = site.logo_file(logo_name)
    if path is None:
        abort(404)
    response = send_file(path, mimetype="image/png", max_age=31536000, conditional=True)
    response.headers["Cache-Control"] = LOGO_CACHE
    response.headers["Content-Disposition"] = "inline"
    return response
