"""The public intake form for new clients (/start), which a business may embed in its own website."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from access import public
from extensions import csrf, limiter
from forms.errors import show_errors
from forms.intake import IntakeForm
from filters import gettext as _
from models import parse_id
from services import intake, logins, visits
from services.errors import DomainError
from services.settings import get_settings

bp = Blueprint("intake", __name__)
POLICY = "policy_"


def _limit() -> str:
    return current_app.config["INTAKE_LIMIT"]


@bp.after_request
def embeddable(response):
    """The business's own website may show this page in a frame (PAWTAL_FRAME_ANCESTORS); no other site may."""
    ancestors = " ".join(current_app.config["FRAME_ANCESTORS"].replace(";", " ").split())
    if ancestors:  # the app's own policy, but for who may frame the page (the app's hook then leaves it as is)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"frame-ancestors 'self' {ancestors}; base-uri 'self'; form-action 'self'")
    return response


def _form_page(form: IntakeForm, status: int = 200, policy_errors: dict | None = None, agreed: set | None = None):
    form.service_id.choices = [(None, _("Not sure yet"))] + [(s.id, s.name) for s in visits.active_services()]
    form.form_key.data = intake.new_form_key()
    return render_template("intake/start.html", form=form, title=get_settings().intake_title,
                           policies=logins.required_policies(), policy_errors=policy_errors or {},
                           agreed=agreed or set()), status


@bp.get("/start")
@public
def start():
    if not intake.enabled():
        abort(404)
    return _form_page(IntakeForm(formdata=None))


@bp.post("/start")
@public
@csrf.exempt
@limiter.limit(_limit, methods=["POST"])
def send():
    """Signed form key instead of the session's CSRF token (see forms.intake); a robot is answered as a person."""
    if not intake.enabled():
        abort(404)
    form = IntakeForm()
    agreed = {i for i in map(parse_id, request.form.getlist("policies")) if i is not None}
    if not form.validate():
        return _form_page(form, 422, agreed=agreed)
    sent = intake.Intake(
        first_name=form.first_name.data or "", last_name=form.last_name.data or "", email=form.email.data or "",
        phone=form.phone.data or "", address_line1=form.address_line1.data or "", city=form.city.data or "",
        zip=form.zip.data or "", service_id=form.service_id.data, start=form.start.data, end=form.end.data,
        notes=form.notes.data or "", agreed_policy_ids=tuple(agreed), ip_address=request.remote_addr or "",
        pets=[intake.PetEntry(row.form.name.data or "", row.form.species.data or "", row.form.breed.data or "",
                              (row.form.age.data or "").strip(), n) for n, row in enumerate(form.pets)])
    try:
        intake.submit(sent, form.form_key.data or "", form.website.data or "")
    except DomainError as refused:
        errors = getattr(refused, "errors", None) or {}
        policy_errors = {int(k.removeprefix(POLICY)): v for k, v in errors.items() if k.startswith(POLICY)}
        for name, message in errors.items():
            if name.startswith("pets-"):
                _, n, field = name.split("-")
                form.pets[int(n)].form[field].errors = [message]
        show_errors(form, DomainError(refused.message) if not errors else _plain(errors))
        return _form_page(form, 422, policy_errors, agreed)
    return render_template("intake/thanks.html", title=get_settings().intake_title, email=sent.email)


class _plain(DomainError):
    """The refusals for the form's own top-level fields (pets and policies are placed by the view)."""

    def __init__(self, errors: dict):
        super().__init__("")
        self.errors = {k: v for k, v in errors.items() if not k.startswith(("pets-", POLICY))}
