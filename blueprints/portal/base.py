"""What every portal page shares: the blueprint, the page context, and answering after a change."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, request, url_for
from flask_login import current_user

from access import my_client, or_404, portal_viewer, viewer
from blueprints.pets import build_pet_form
from extensions import htmx
from forms.clients import InfoForm, vet_choices
from forms.client_forms import answer_form
from forms.errors import apply_rules
from models import ClientProfile, Pet, Vet
from rendering import done, render_page
from services import cards, forms, logins, onboarding, portal_views
from services.resources import list_of
from services.settings import form_field_rules, get_settings

bp = Blueprint("portal", __name__, url_prefix="/portal")


def my_pet_or_404(pet_id: int) -> Pet:
    """One of the client's own active pets; anything else is 404."""
    return or_404(next((p for p in my_client().pets if p.id == pet_id and p.active), None))


def build_info_form(client: ClientProfile, fresh: bool = False) -> InfoForm:
    """My Info: from the profile on a GET (or `fresh`, after saving), else from what was posted."""
    shown = fresh or request.method == "GET"
    form = InfoForm(formdata=None, obj=client) if shown else InfoForm()
    if shown:
        form.show_emails(client)
    form.vet_id.choices = vet_choices(list_of(Vet))
    apply_rules(form, form_field_rules("client"))
    return form


def build_client_pet_form(client: ClientProfile, pet: Pet | None = None):
    form = build_pet_form(client, pet)
    del form["active"]  # clients see active pets only; staff decide what is inactive
    return form


def portal_context(client: ClientProfile, info_form: InfoForm | None = None, pet_form=None, answer=None) -> dict:
    """What every portal page shows: the onboarding state and, for its current step, that step's form."""
    state = onboarding.onboarding_for(client)
    current = state.current.key if state.current else None
    if info_form is None and current == onboarding.INFO:
        info_form = build_info_form(client)
    if pet_form is None and current == onboarding.PETS:
        pet_form = build_client_pet_form(client)
    if current == onboarding.FORMS:
        task = next((t for t in forms.tasks_for(client) if t.form.onboarding and not t.done), None)
        if task is not None and (answer is None or answer[0].form.id != task.form.id):
            answer = (task, answer_form(task.form.current))
    settings = get_settings()
    return {"client": client, "login": viewer(), "onboarding": state, "info_form": info_form,
            "pet_form": pet_form, "pets": [p for p in client.pets if p.active], "features": settings,
            "answer": answer, "cards_on": cards.cards_available(settings)}


def from_widget() -> bool:
    """The post came from the onboarding widget on the portal home, not from the area's own page."""
    return request.form.get("widget") == "1"


def onboarding_widget(status: int = 200, **forms_shown):
    return render_page("portal/index.html", {"onboarding": "portal/_onboarding.html"}, status=status,
                       **portal_context(my_client(), **forms_shown))


def saved(message: str, location: str, fragment: str, **extra):
    """After a change: the onboarding widget re-renders itself, the area's page shows its fragment."""
    client = my_client()
    if from_widget():
        if htmx and htmx.target == "onboarding":
            context = portal_context(client)
            if context["onboarding"].complete:  # the widget says "You're all set" now, so the home page need not
                logins.welcome(current_user)
            return done(message, url_for("portal.index"), "portal/_onboarding.html", **context)
        return done(message, url_for("portal.index"))
    back = onboarding_return()
    if back:
        return done(message, back)
    context = portal_context(client)
    context.update(extra)
    return done(message, location, fragment, **context)


def onboarding_return() -> str | None:
    """The portal home, when a page was opened from the onboarding checklist (?next=/portal/) to go back to it."""
    home = url_for("portal.index")
    return home if request.values.get("next") == home else None


def invalid(page: str, fragment: str, status: int, **forms_shown):
    """Errors beside the fields: in the widget, the page's fragment, or the whole page."""
    if from_widget():
        return onboarding_widget(status, info_form=forms_shown.get("info_form"), pet_form=forms_shown.get("pet_form"))
    extra = {k: v for k, v in forms_shown.items() if k not in ("info_form", "pet_form")}
    return render_page(page, fragment, status=status, **portal_context(
        my_client(), forms_shown.get("info_form"), forms_shown.get("pet_form")), **extra)


def not_ready():
    """A request page before onboarding is complete: what is left to do (403)."""
    return render_page("portal/not_ready.html", "portal/_not_ready.html", status=403, **portal_context(my_client()))


@bp.before_request
def refuse_changes_while_viewing() -> None:
    """Staff viewing a client's portal only look: any change under /portal is refused (403), whatever the route."""
    portal_viewer()


@bp.after_request
def log_portal_view(response):
    """Each portal page or download staff saw as the client is logged: who, whose, when, which page."""
    shown = portal_viewer() if request.method == "GET" and 200 <= response.status_code < 300 else None
    if shown is not None:
        path = request.full_path.rstrip("?")
        portal_views.log_view(shown.staff_id, shown.staff_name, shown.client, path)
    return response


@bp.after_request
def allow_stripe(response):
    """Portal pages may load Stripe.js, which talks to Stripe's API and opens its frames (3-D Secure)."""
    config = current_app.config
    if response.mimetype == "text/html" and cards.stripe_configured():
        js = _origin(config["STRIPE_JS_URL"])
        api = _origin(config["STRIPE_API_BASE"] or "https://api.stripe.com")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self' {js}; "
            f"connect-src 'self' {api} {js}; frame-src {js} https://hooks.stripe.com; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
    return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
