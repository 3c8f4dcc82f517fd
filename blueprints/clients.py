"""The client desk: the client table and profile views, and editing profiles."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
    EmailField,
    TelField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from access import manager_required, staff_required
from blueprints.forms import coerce_optional_int, parse_money, show_errors
from extensions import db
from filters import business_today
from models import ClientProfile, ClientStatus, Service, Territory
from rendering import done, render_page
from services import accounts, clients, onboarding, visits
from services import forms as client_forms
from services import logins as client_logins
from services.errors import DomainError
from services.resources import list_of
from services.settings import HIDDEN, REQUIRED, form_field_rules

bp = Blueprint("clients", __name__, url_prefix="/clients")

TABLE_FRAGMENTS = {"desk": "clients/_table_view.html", "client-rows": "clients/_rows.html"}


class EmailEntry(Form):
    email = StringField("Email", validators=[Optional(), Length(max=254)])
    is_primary = BooleanField("Primary")


class ContactFields(FlaskForm):
    """Contact, home, keys, vet and emergency fields: the staff form and the client's My Info share them."""

    emails = FieldList(FormField(EmailEntry), min_entries=1, max_entries=6)
    mobile_phone = TelField("Mobile phone", validators=[Length(max=40)])
    home_phone = TelField("Home phone", validators=[Length(max=40)])
    work_phone = TelField("Work phone", validators=[Length(max=40)])
    address_line1 = StringField("Street address", validators=[Length(max=200)])
    address_line2 = StringField("Apartment, unit (optional)", validators=[Length(max=200)])
    city = StringField("City", validators=[Length(max=100)])
    state = StringField("State", validators=[Length(max=60)])
    zip = StringField("Zip code", validators=[Length(max=12)])
    uses_keys = BooleanField("Uses keys")
    key_notes = TextAreaField("Key notes", validators=[Length(max=2000)])
    vet_id = SelectField("Veterinarian", coerce=coerce_optional_int, validate_choice=False)
    emergency_name = StringField("Emergency contact name", validators=[Length(max=160)])
    emergency_phone = TelField("Emergency contact phone", validators=[Length(max=40)])


class ClientForm(ContactFields):
    """The staff form: the contact fields plus what only staff set."""

    first_name = StringField("First name", validators=[InputRequired(), Length(max=80)])
    last_name = StringField("Last name", validators=[InputRequired(), Length(max=80)])
    territory_id = SelectField("Territory", coerce=coerce_optional_int, validate_choice=False)
    status = SelectField("Status", choices=[(s.value, s.label) for s in ClientStatus], default=ClientStatus.PROSPECT.value)
    primary_sitter_id = SelectField("Primary sitter", coerce=coerce_optional_int, validate_choice=False)
    secondary_sitter_id = SelectField("Secondary sitter", coerce=coerce_optional_int, validate_choice=False)
    blocked_sitter_ids = SelectMultipleField(
        "Blocked sitters", coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validate_choice=False,
    )
    staff_notes = TextAreaField("Staff-only notes", validators=[Length(max=5000)])


class LoginForm(FlaskForm):
    first_name = StringField("First name", validators=[Length(max=80)])
    last_name = StringField("Last name", validators=[Length(max=80)])
    email = EmailField("Email", validators=[InputRequired(message="Enter an email address."), Length(max=254)],
                       description="They sign in with it; we email them a link to set their password.")


class PriceForm(FlaskForm):
    service_id = SelectField("Service", coerce=coerce_optional_int, validators=[InputRequired()])
    price = StringField("Price", validators=[InputRequired()])
    effective_on = DateField("Effective from", validators=[InputRequired(message="Enter a date.")])


def client_or_404(client_id: int) -> ClientProfile:
    """The client, if the signed-in staff member may see it (sitters: assigned clients only)."""
    client = clients.load_client(client_id, current_user)
    if client is None:
        abort(404)
    return client


def build_client_form(client: ClientProfile | None = None) -> ClientForm:
    """The staff client form with choices filled in and the site's field rules applied."""
    form = ClientForm(obj=client) if request.method == "GET" else ClientForm()
    if client is not None and request.method == "GET":
        form.blocked_sitter_ids.data = [s.id for s in client.blocked_sitters]
        form.territory_id.data = client.territory_id if client.territory_manual else None
        form.status.data = client.status.value
        while len(form.emails.entries):
            form.emails.pop_entry()
        for address in client.emails:
            form.emails.append_entry({"email": address.email, "is_primary": address.is_primary})
        form.emails.append_entry({"email": "", "is_primary": False})
    sitters = [(None, "— None —")] + [(s.id, s.name) for s in accounts.list_sitters()]
    form.primary_sitter_id.choices = sitters
    form.secondary_sitter_id.choices = sitters
    form.blocked_sitter_ids.choices = sitters[1:]
    form.territory_id.choices = [(None, "Automatic, from the zip code")] + [(t.id, t.name) for t in list_of(Territory)]
    form.vet_id.choices = vet_choices()
    apply_rules(form, form_field_rules("client"))
    return form


def vet_choices() -> list[tuple]:
    from models import Vet

    return [(None, "— None —")] + [(v.id, v.clinic) for v in list_of(Vet)]


def apply_rules(form, rules: dict[str, str]) -> None:
    """Remove hidden fields and mark required ones, so the page shows what the server enforces."""
    for name, rule in rules.items():
        if name not in form._fields:
            continue
        if rule == HIDDEN:
            del form[name]
        elif rule == REQUIRED:
            form[name].flags.required = True


def client_values(form: ClientForm) -> dict:
    """The form's data as the service expects it: only fields present in the form."""
    values = {name: field.data for name, field in form._fields.items() if name not in ("csrf_token", "emails")}
    if "emails" in form._fields:
        values["emails"] = [(entry.data["email"], entry.data["is_primary"]) for entry in form.emails.entries]
    return values


def _desk_context(query: clients.ClientQuery) -> dict:
    result = clients.search_clients(current_user, query, current_app.config["CLIENTS_PER_PAGE"])
    return {"query": query, "result": result, "statuses": list(ClientStatus),
            "onboarding_filters": clients.ONBOARDING_FILTERS}


@bp.get("/")
@staff_required()
def index():
    query = clients.ClientQuery.from_args(request.args)
    return render_page(
        "clients/index.html", TABLE_FRAGMENTS, push_url=url_for("clients.index", **query.args()),
        **_desk_context(query),
    )


@bp.get("/<int:client_id>")
@staff_required()
def show(client_id: int):
    client = client_or_404(client_id)
    return render_page("clients/show.html", "clients/_profile.html", **_profile_context(client))


def _profile_context(client: ClientProfile, price_form: PriceForm | None = None) -> dict:
    query = clients.ClientQuery.from_args(request.args)
    today = business_today()
    form_tasks = client_forms.tasks_for(client)
    context = {"client": client, "query": query, "today": today, "form_tasks": form_tasks,
               "onboarding": onboarding.onboarding_for(client, form_tasks)}
    if current_user.can_manage:
        services = list_of(Service)
        if price_form is None:
            price_form = PriceForm(formdata=None, effective_on=today)
        price_form.service_id.choices = [(None, "Choose a service")] + [(s.id, s.name) for s in services]
        context.update(price_form=price_form, prices_in_force=clients.current_prices(client, today),
                       services=services, login_form=LoginForm(formdata=None))
    return context


@bp.get("/new")
@manager_required
def new():
    form = build_client_form()
    return render_page("clients/edit.html", "clients/_form.html", form=form, client=None)


@bp.post("/")
@manager_required
def create():
    form = build_client_form()
    if form.validate_on_submit():
        try:
            client = clients.save_client(None, client_values(form))
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            client = client_or_404(client.id)
            return done(f"Added {client.name}.", url_for("clients.show", client_id=client.id),
                        "clients/_profile.html", **_profile_context(client))
    return render_page("clients/edit.html", "clients/_form.html", status=422, form=form, client=None)


@bp.get("/<int:client_id>/edit")
@manager_required
def edit(client_id: int):
    client = client_or_404(client_id)
    return render_page("clients/edit.html", "clients/_form.html", form=build_client_form(client), client=client)


@bp.post("/<int:client_id>")
@manager_required
def update(client_id: int):
    client = client_or_404(client_id)
    form = build_client_form(client)
    if form.validate_on_submit():
        try:
            clients.save_client(client, client_values(form))
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            client = client_or_404(client_id)
            return done(f"Saved {client.name}.", url_for("clients.show", client_id=client.id),
                        "clients/_profile.html", **_profile_context(client))
    return render_page("clients/edit.html", "clients/_form.html", status=422, form=form, client=client)


@bp.post("/<int:client_id>/delete")
@manager_required
def delete(client_id: int):
    client = client_or_404(client_id)
    name = client.name
    clients.delete_client(client)
    return done(f"Deleted {name}.", url_for("clients.index"))


@bp.post("/<int:client_id>/prices")
@manager_required
def add_price(client_id: int):
    client = client_or_404(client_id)
    form = PriceForm()
    form.service_id.choices = [(None, "Choose a service")] + [(s.id, s.name) for s in list_of(Service)]
    if form.validate_on_submit():
        try:
            cents = parse_money(form.price.data)
            clients.add_custom_price(client, form.service_id.data, cents, form.effective_on.data, current_user)
        except ValueError as error:
            form.price.errors = [str(error)]
        except DomainError as error:
            show_errors(form, error, {"price": "price"})
        else:
            client = client_or_404(client_id)
            return done("Custom price added.", url_for("clients.show", client_id=client.id),
                        "clients/_prices.html", **_profile_context(client))
    return render_page("clients/show.html", {"prices": "clients/_prices.html"}, status=422,
                       **_profile_context(client, form))


@bp.get("/<int:client_id>/logins")
@manager_required
def logins(client_id: int):
    """The profile's logins section (it refreshes itself after invitations change)."""
    client = client_or_404(client_id)
    return render_page("clients/show.html", "clients/_logins.html", **_profile_context(client))


def _logins_done(client_id: int, message: str, category: str = "success"):
    client = client_or_404(client_id)
    return done(message, url_for("clients.show", client_id=client_id), "clients/_logins.html", category=category,
                login_notice=message, login_notice_category=category, **_profile_context(client))


@bp.post("/<int:client_id>/logins")
@manager_required
def add_login(client_id: int):
    client = client_or_404(client_id)
    form = LoginForm()
    if form.validate_on_submit():
        try:
            login = client_logins.add_login(client, form.email.data, form.first_name.data, form.last_name.data)
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            return _logins_done(client_id, f"Added {login.email}; we emailed a link to set the password.")
    context = _profile_context(client_or_404(client_id))
    context["login_form"] = form
    return render_page("clients/show.html", {"logins": "clients/_logins.html"}, status=422, **context)


def _login_of(client: ClientProfile, login_id: int):
    login = next((item for item in client.logins if item.id == login_id), None)
    if login is None:
        abort(404)
    return login


@bp.post("/<int:client_id>/logins/<int:login_id>/active")
@manager_required
def set_login_active(client_id: int, login_id: int):
    login = _login_of(client_or_404(client_id), login_id)
    active = request.form.get("active") == "1"
    client_logins.set_active(login, active)
    return _logins_done(client_id, f"{'Enabled' if active else 'Disabled'} {login.email}.")


@bp.post("/<int:client_id>/logins/<int:login_id>/password-link")
@manager_required
def send_login_link(client_id: int, login_id: int):
    login = _login_of(client_or_404(client_id), login_id)
    try:
        client_logins.send_password_link(login)
    except DomainError as error:
        return _logins_done(client_id, error.message, "error")
    return _logins_done(client_id, f"Emailed a password link to {login.email}.")


@bp.post("/<int:client_id>/logins/<int:login_id>/feed")
@manager_required
def reset_login_feed(client_id: int, login_id: int):
    """A new private calendar feed address for a client login (say, one that was shared by mistake)."""
    login = _login_of(client_or_404(client_id), login_id)
    visits.reset_feed(login)
    return _logins_done(client_id, f"{login.email} has a new calendar feed address; the old one no longer works.")
