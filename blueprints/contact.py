"""The public Contact page (/contact): anyone may write to the business, which answers by email. The same guards
against spam as the intake form (services.spam) and its own rate limit; it may be embedded like the intake form."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from access import public
from blueprints.intake import embeddable
from extensions import csrf, limiter
from forms.errors import show_errors
from forms.messages import ContactForm
from services import messages
from services.accounts import normalize_email
from services.errors import DomainError
from services.settings import get_settings

bp = Blueprint("contact", __name__)
bp.after_request(embeddable)


def _limit() -> str:
    return current_app.config["CONTACT_LIMIT"]


def _page(form: ContactForm, status: int = 200):
    form.form_key.data = messages.new_contact_key()
    return render_template("contact/index.html", form=form), status


@bp.get("/contact")
@public
def index():
    if not get_settings().contact_enabled:
        abort(404)
    return _page(ContactForm(formdata=None))


@bp.post("/contact")
@public
@csrf.exempt
@limiter.limit(_limit, methods=["POST"])
def send():
    """Signed form key instead of the session's CSRF token (see forms.messages); a robot is answered as a person."""
    if not get_settings().contact_enabled:
        abort(404)
    form = ContactForm()
    if not form.validate():
        return _page(form, 422)
    sent = messages.Contact(name=form.name.data or "", email=form.email.data or "", phone=form.phone.data or "",
                            subject=form.subject.data or "", body=form.body.data or "")
    try:
        messages.contact(sent, form.form_key.data or "", form.website.data or "")
    except DomainError as refused:
        show_errors(form, refused)
        return _page(form, 422)
    return render_template("contact/thanks.html", email=normalize_email(sent.email))
