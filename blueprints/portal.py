"""The client portal (signed-in client logins only): onboarding, My Info, My Pets.

A client only ever sees their own profile: every lookup starts from the signed-in login's profile,
so another client's ids answer 404. Functions the business switched off answer 404 too.
"""
from __future__ import annotations

from datetime import timedelta
from functools import wraps

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, request, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from flask_wtf.file import FileField
from wtforms import BooleanField, RadioField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from access import client_required
from blueprints.clients import ContactFields, apply_rules, client_values, vet_choices
from blueprints.forms import show_errors
from blueprints.pets import build_pet_form, save_pet_form, send_document
from blueprints.visit_forms import RequestForm, build_request_form, plan_from
from filters import business_today
from extensions import db, htmx
from models import ClientProfile, Document, FormResponse, Pet, Photo, Visit
from rendering import done, render_page
from services.outbox import external_url
from services import cards, clients, documents, forms, onboarding, visits
from services import pets as pet_service
from services.errors import DomainError
from services.settings import form_field_rules, get_settings

bp = Blueprint("portal", __name__, url_prefix="/portal")

# Which site option switches which portal function.
FEATURES = {"profile": "portal_profile", "pets": "portal_pets", "forms": "portal_forms", "cards": "portal_cards",
            "requests": "portal_requests", "calendar": "portal_calendar"}


class DocumentForm(FlaskForm):
    title = StringField("What is it?", validators=[Length(max=160)],
                        description="For example: Rabies certificate 2026.")
    document = FileField("File", description="A PDF, or a photo or scan (JPEG, PNG or WebP).")


def answer_form(version, task_pet=None) -> FlaskForm:
    """A form for the questions of one form version; the service checks the answers."""
    attrs = {}
    for spec in version.fields:
        label, kind = spec["label"], spec["type"]
        if kind == "long_text":
            field = TextAreaField(label)
        elif kind == "yes_no":
            field = RadioField(label, choices=[("yes", "Yes"), ("no", "No")], validate_choice=False)
        elif kind == "choice":
            field = RadioField(label, choices=[(c, c) for c in spec["choices"]], validate_choice=False)
        elif kind == "file":
            field = FileField(label, description="A PDF, or a JPEG, PNG or WebP image.")
        elif kind == "signature":
            field = StringField(label, description="Type your full name: it is your signature.")
        else:
            field = StringField(label)
        attrs[spec["key"]] = field
    form = type("AnswerForm", (FlaskForm,), attrs)()
    for spec in version.fields:
        form[spec["key"]].flags.required = spec["required"]
        form[spec["key"]].field_type = spec["type"]
    return form


class InfoForm(ContactFields):
    """What a client may edit of their own profile: never status, sitters, prices or staff notes."""

    first_name = StringField("First name", validators=[InputRequired(message="Enter your first name."),
                                                       Length(max=80)])
    last_name = StringField("Last name", validators=[InputRequired(message="Enter your last name."), Length(max=80)])
    uses_keys = BooleanField("We give you a key")
    key_notes = TextAreaField("Key and entry notes", validators=[Length(max=2000)],
                              description="Where the key is, alarm codes, gates.")


def feature_required(name: str):
    """404 when the business switched this portal function off (cards also need Stripe set up)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            settings = get_settings()
            if not getattr(settings, FEATURES[name]) or (name == "cards" and not onboarding.cards_available(settings)):
                abort(404)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def my_client() -> ClientProfile:
    """The signed-in login's own profile, with what the portal shows (loaded once per request)."""
    if "my_client" not in g:
        g.my_client = db.session.scalar(
            select(ClientProfile).where(ClientProfile.id == current_user.client_id)
            .options(selectinload(ClientProfile.emails),
                     selectinload(ClientProfile.pets).selectinload(Pet.vaccinations))
        )
    return g.my_client


def my_pet_or_404(client: ClientProfile, pet_id: int) -> Pet:
    """One of the client's own active pets; anything else is 404."""
    pet = next((p for p in client.pets if p.id == pet_id and p.active), None)
    if pet is None:
        abort(404)
    return pet


def build_info_form(client: ClientProfile) -> InfoForm:
    form = InfoForm(obj=client) if request.method == "GET" else InfoForm()
    if request.method == "GET":
        while len(form.emails.entries):
            form.emails.pop_entry()
        for address in client.emails:
            form.emails.append_entry({"email": address.email, "is_primary": address.is_primary})
        form.emails.append_entry({"email": "", "is_primary": False})
    form.vet_id.choices = vet_choices()
    apply_rules(form, form_field_rules("client"))
    return form


def build_client_pet_form(client: ClientProfile, pet: Pet | None = None):
    form = build_pet_form(client, pet)
    del form["active"]  # clients see active pets only; staff decide what is inactive
    return form


def _context(client: ClientProfile, info_form: InfoForm | None = None, pet_form=None, answer=None) -> dict:
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
    return {"client": client, "login": current_user, "onboarding": state, "info_form": info_form,
            "pet_form": pet_form, "pets": [p for p in client.pets if p.active], "features": settings,
            "answer": answer, "cards_on": onboarding.cards_available(settings)}


def _from_widget() -> bool:
    return request.form.get("widget") == "1"


@bp.get("/")
@client_required
def index():
    client = my_client()
    context = _context(client)
    if context["onboarding"].complete and context["features"].portal_calendar:
        today = business_today()
        context["upcoming"] = visits.calendar_visits(today, today + timedelta(days=366), client_id=client.id,
                                                     open_only=True, limit=3)
    return render_page("portal/index.html", {"onboarding": "portal/_onboarding.html"}, **context)


@bp.route("/info", methods=["GET", "POST"])
@client_required
@feature_required("profile")
def info():
    client = my_client()
    form = build_info_form(client)
    if form.validate_on_submit():
        try:
            clients.save_client(client, client_values(form), staff_fields=False)
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            return _saved(client, "Your details are saved.", "portal/_info.html")
    return _invalid(client, "portal/info.html", "portal/_info.html", info_form=form)


@bp.get("/pets")
@client_required
@feature_required("pets")
def pets():
    return render_page("portal/pets.html", "portal/_pets.html", **_context(my_client()))


@bp.route("/pets/new", methods=["GET", "POST"])
@client_required
@feature_required("pets")
def new_pet():
    client = my_client()
    form = build_client_pet_form(client)
    if request.method == "POST" and form.validate_on_submit():
        if save_pet_form(form, client, None):
            return _saved(client, f"Added {form.name.data}.", "portal/_pets.html")
    elif request.method == "GET":
        return render_page("portal/pet_form.html", "portal/_pet_form.html", pet=None, **_context(client, pet_form=form))
    return _invalid(client, "portal/pet_form.html", "portal/_pet_form.html", pet_form=form, pet=None)


@bp.route("/pets/<int:pet_id>/edit", methods=["GET", "POST"])
@client_required
@feature_required("pets")
def edit_pet(pet_id: int):
    client = my_client()
    pet = my_pet_or_404(client, pet_id)
    form = build_client_pet_form(client, pet)
    if request.method == "POST" and form.validate_on_submit():
        if save_pet_form(form, client, pet):
            return _saved(client, f"Saved {pet.name}.", "portal/_pets.html")
    elif request.method == "GET":
        return render_page("portal/pet_form.html", "portal/_pet_form.html", pet=pet, document_form=DocumentForm(),
                           **_context(client, pet_form=form))
    return _invalid(client, "portal/pet_form.html", "portal/_pet_form.html", pet_form=form, pet=pet,
                    document_form=DocumentForm())


@bp.get("/photos/<int:photo_id>")
@client_required
def photo(photo_id: int):
    """A photo of one of the client's own pets; never another client's."""
    item = db.session.scalar(select(Photo).where(Photo.id == photo_id, Photo.client_id == current_user.client_id))
    if item is None:
        abort(404)
    response = send_file(pet_service.photo_path(item), mimetype="image/jpeg", max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _saved(client: ClientProfile, message: str, fragment: str):
    """After a change: refresh the onboarding state; the widget re-renders itself, pages redirect."""
    onboarding.refresh(client)
    db.session.commit()
    if _from_widget():
        if htmx and htmx.target == "onboarding":
            return done(message, url_for("portal.index"), "portal/_onboarding.html", **_context(client))
        return done(message, url_for("portal.index"))
    location = {"portal/_info.html": url_for("portal.info"), "portal/_forms.html": url_for("portal.my_forms")}.get(
        fragment, url_for("portal.pets"))
    return done(message, location, fragment, tasks=forms.tasks_for(client), **_context(client))


def _invalid(client: ClientProfile, page: str, fragment: str, **forms):
    """Errors beside the fields, 422: the widget, the page's fragment, or the whole page."""
    if _from_widget():
        return render_page("portal/index.html", {"onboarding": "portal/_onboarding.html"}, status=422,
                           **_context(client, forms.get("info_form"), forms.get("pet_form")))
    extra = {k: v for k, v in forms.items() if k not in ("info_form", "pet_form")}
    return render_page(page, fragment, status=422 if request.method == "POST" else 200,
                       **_context(client, forms.get("info_form"), forms.get("pet_form")), **extra)



@bp.get("/forms")
@client_required
@feature_required("forms")
def my_forms():
    client = my_client()
    return render_page("portal/forms.html", "portal/_forms.html", tasks=forms.tasks_for(client), **_context(client))


def _task_or_404(client: ClientProfile, form_id: int) -> forms.FormTask:
    """An active form for this client; for per-pet forms, about one of the client's own active pets."""
    pet_id = request.args.get("pet", type=int)
    task = next((t for t in forms.tasks_for(client)
                 if t.form.id == form_id and (t.pet.id if t.pet else None) == pet_id), None)
    if task is None:
        abort(404)
    return task


@bp.route("/forms/<int:form_id>", methods=["GET", "POST"])
@client_required
@feature_required("forms")
def fill_form(form_id: int):
    client = my_client()
    task = _task_or_404(client, form_id)
    form = answer_form(task.form.current)
    if request.method == "POST" and form.validate_on_submit():
        values = {key: request.form.get(key, "") for key in form._fields if key != "csrf_token"}
        try:
            forms.submit(task.form, client, task.pet, current_user, values, request.files)
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            return _saved(client, f"Thank you: “{task.name}” is filled in.", "portal/_forms.html")
    status = 422 if request.method == "POST" else 200
    if _from_widget():
        return render_page("portal/index.html", {"onboarding": "portal/_onboarding.html"}, status=status,
                           **_context(client, answer=(task, form)))
    return render_page("portal/form.html", "portal/_form.html", status=status, task=task, form=form,
                       **_context(client))


@bp.route("/pets/<int:pet_id>/documents", methods=["POST"])
@client_required
@feature_required("pets")
def add_document(pet_id: int):
    client = my_client()
    pet = my_pet_or_404(client, pet_id)
    form = DocumentForm()
    if form.validate_on_submit():
        upload = form.document.data
        try:
            if not upload or not upload.filename:
                raise DomainError("Choose a file to upload.", "document")
            documents.store_document(client, upload, form.title.data or "", pet)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            return done("Document added.", url_for("portal.edit_pet", pet_id=pet.id), "portal/_documents.html",
                        pet=pet, document_form=DocumentForm(formdata=None))
    return render_page("portal/pet_form.html", {"documents": "portal/_documents.html"}, status=422, pet=pet,
                       document_form=form, **_context(client, pet_form=build_client_pet_form(client, pet)))


@bp.get("/documents/<int:document_id>")
@client_required
def document(document_id: int):
    """One of the client's own documents; a document of an inactive pet is hidden like the pet."""
    item = db.session.scalar(select(Document).where(Document.id == document_id,
                                                    Document.client_id == current_user.client_id))
    if item is None or (item.pet_id and not db.session.get(Pet, item.pet_id).active):
        abort(404)
    return send_document(item)


@bp.after_request
def allow_stripe(response):
    """Portal pages may load Stripe.js, which talks to Stripe's API and opens its frames (3-D Secure)."""
    config = current_app.config
    if response.mimetype == "text/html" and onboarding.stripe_configured():
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


@bp.get("/card")
@client_required
@feature_required("cards")
def card():
    client = my_client()
    return render_page("portal/card.html", "portal/_card.html", **_context(client))


@bp.post("/card/setup")
@client_required
@feature_required("cards")
def start_card_setup():
    """Start entering a card (or a bank account): a SetupIntent, and the entry form for Stripe.js."""
    client = my_client()
    kind = "us_bank_account" if request.form.get("kind") == "us_bank_account" else "card"
    if kind == "us_bank_account" and not get_settings().accept_bank_accounts:
        abort(404)
    try:
        secret = cards.start_setup(client, kind)
    except DomainError as error:
        return render_page("portal/card.html", {"card-entry": "portal/_card_entry.html"}, status=502,
                           entry_error=error.message, **_context(client))
    return render_page("portal/card.html", {"card-entry": "portal/_card_entry.html"}, client_secret=secret,
                       kind=kind, widget=_from_widget(), **_context(client))


@bp.post("/card/confirm")
@client_required
@feature_required("cards")
def confirm_card():
    client = my_client()
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        method = cards.finish_setup(client, request.form.get("setup_intent", ""))
    except DomainError as error:
        db.session.rollback()
        return done(error.message, url_for("portal.index" if _from_widget() else "portal.card"), category="error")
    message = (f"Saved your {method.label}." if method.usable
               else f"Saved your {method.label}; it can be used once it is verified.")
    return done(message, url_for("portal.index" if _from_widget() else "portal.card"))


@bp.post("/card/<int:method_id>/remove")
@client_required
@feature_required("cards")
def remove_card(method_id: int):
    client = my_client()
    method = next((m for m in client.payment_methods if m.id == method_id), None)
    if method is None:
        abort(404)
    cards.remove_method(client, method)
    return done(f"Removed your {method.label}.", url_for("portal.card"), "portal/_card.html", **_context(client))


@bp.get("/forms/answers/<int:response_id>")
@client_required
@feature_required("forms")
def form_answers(response_id: int):
    """The client's own answers, as given; another client's answers are 404."""
    item = db.session.scalar(select(FormResponse).where(FormResponse.id == response_id,
                                                        FormResponse.client_id == current_user.client_id))
    if item is None:
        abort(404)
    return render_page("portal/answers.html", "portal/_answers.html", response=item, rows=forms.answer_rows(item),
                       **_context(my_client()))


def onboarded(view):
    """Request pages wait until onboarding is complete: until then a page says what is left (403)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        client = my_client()
        state = onboarding.onboarding_for(client)
        if not state.complete:
            return render_page("portal/not_ready.html", "portal/_not_ready.html", status=403,
                               **_context(client))
        return view(*args, **kwargs)

    return wrapped


def _calendar_context(client: ClientProfile, month, panel: str | None = None, **extra) -> dict:
    """The month grid: the client's visits and the business's block-out days, in three queries."""
    today = business_today()
    weeks = visits.month_weeks(month)
    first, last = weeks[0][0], weeks[-1][-1]
    settings = get_settings()
    shown = visits.calendar_visits(first, last, client_id=client.id) if settings.portal_calendar else []
    blockouts = visits.blockouts_between(first, last)
    context = _context(client)
    context.update(
        month=month, weeks=weeks, today=today, visits_by_day=visits.by_day(shown),
        blocked=visits.blocked_days(blockouts, first, last),
        prev_month=visits.shift_month(month, -1), next_month=visits.shift_month(month, 1),
        this_month=today.replace(day=1), panel=panel, can_request=settings.portal_requests and context["onboarding"].complete,
        feed_url=external_url("feeds.show", token=current_user.calendar_token),
        window_label=visits.window_label, new_request_url=url_for("portal.new_request"),
        visit_url=url_for("portal.calendar").replace("/calendar", "/visits/"),
    )
    context.update(extra)
    return context


@bp.get("/calendar")
@client_required
@feature_required("calendar")
def calendar():
    client = my_client()
    month = visits.parse_month(request.args.get("month"), business_today())
    return render_page("portal/calendar.html", {"calendar": "portal/_calendar.html",
                                                "calendar-view": "portal/_calendar_view.html"},
                       **_calendar_context(client, month))


def _request_page(client: ClientProfile, form: RequestForm, status: int = 200, preview=None, fragment=None):
    """The request form beside the calendar of its first day's month; for htmx, just the panel
    (or the `fragment` asked for)."""
    day = form.start.data if form.mode.data != "days" else next((e.data for e in form.days.entries if e.data), None)
    month = visits.parse_month(f"{day:%Y-%m}" if day else None, business_today())
    return render_page("portal/calendar.html",
                       fragment or {"request-panel": "portal/_request_panel.html", "calendar-view": "portal/_calendar_view.html"},
                       status=status, **_calendar_context(client, month, panel="form", form=form, preview=preview))


@bp.get("/requests/new")
@client_required
@feature_required("requests")
@onboarded
def new_request():
    client = my_client()
    form = build_request_form(client, day=visits.parse_day(request.args.get("day")))
    return _request_page(client, form)


@bp.post("/requests/preview")
@client_required
@feature_required("requests")
@onboarded
def preview_request():
    """The price of each visit and the total, or what stands in the way (a small fragment)."""
    client = my_client()
    form = build_request_form(client)
    return _request_page(client, form, preview=_try_preview(client, form), fragment="portal/_request_preview.html")


def _try_preview(client: ClientProfile, form: RequestForm):
    """A Preview, or None while the form is not complete enough to price."""
    try:
        return visits.preview(client.id, plan_from(form, client))
    except DomainError:
        return None


@bp.post("/requests/new")
@client_required
@feature_required("requests")
@onboarded
def create_request():
    client = my_client()
    action = request.form.get("action", "send")
    form = build_request_form(client, extra_days=1 if action == "add_day" else 0)
    if action in ("preview", "add_day"):
        return _request_page(client, form, preview=_try_preview(client, form))
    if not form.validate_on_submit():
        return _request_page(client, form, 422, _try_preview(client, form))
    try:
        visit_request = visits.request_visits(client, current_user, plan_from(form, client))
    except visits.ConflictError as error:
        db.session.rollback()
        show_errors(form, error)
        return _request_page(client, form, 422, visits.Preview(conflicts=error.conflicts))
    except DomainError as error:
        db.session.rollback()
        show_errors(form, error)
        return _request_page(client, form, 422, _try_preview(client, form))
    first = visit_request.visits[0].day
    count = len(visit_request.visits)
    message = (f"Thank you: we have your request for {count} visit{'s' if count != 1 else ''}. "
               "We will email you when it is approved.")
    if not get_settings().portal_calendar:
        return done(message, url_for("portal.index"))
    month = first.replace(day=1)
    return done(message, url_for("portal.calendar", month=f"{month:%Y-%m}"), "portal/_calendar_view.html",
                **_calendar_context(client, month))


def my_visit_or_404(visit_id: int) -> Visit:
    """One of the signed-in client's own visits; anyone else's is 404."""
    visit = db.session.scalar(select(Visit).where(Visit.id == visit_id, Visit.client_id == current_user.client_id))
    if visit is None:
        abort(404)
    return visit


@bp.get("/visits/<int:visit_id>")
@client_required
@feature_required("calendar")
def show_visit(visit_id: int):
    client = my_client()
    visit = my_visit_or_404(visit_id)
    return render_page("portal/calendar.html",
                       {"request-panel": "portal/_request_panel.html", "calendar-view": "portal/_calendar_view.html"},
                       **_calendar_context(client, visit.day.replace(day=1), panel="visit", visit=visit,
                                           late=visits.is_late_cancellation(visit)))


@bp.post("/visits/<int:visit_id>/cancel")
@client_required
@feature_required("calendar")
def cancel_visit(visit_id: int):
    client = my_client()
    visit = my_visit_or_404(visit_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    month = visit.day.replace(day=1)
    location = url_for("portal.calendar", month=f"{month:%Y-%m}")
    try:
        visits.cancel_visit(visit, current_user)
    except DomainError as error:
        db.session.rollback()
        return done(error.message, location, "portal/_calendar_view.html", category="error",
                    **_calendar_context(client, month))
    message = ("Cancelled. It was inside the cancellation window, so it counts as a late cancellation."
               if visit.late_cancellation else "Cancelled. We have let the team know.")
    return done(message, location, "portal/_calendar_view.html", **_calendar_context(client, month))


@bp.post("/calendar/feed")
@client_required
@feature_required("calendar")
def reset_feed():
    """A new private feed address; the old one stops working."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    visits.reset_feed(current_user)
    return done("Your calendar feed has a new address. Subscribe again with it; the old one no longer works.",
                url_for("portal.calendar"))
