"""The business's resources (owner and manager): services, vets, territories, policies."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import Blueprint, abort, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from access import manager_required
from blueprints.forms import cents_to_text, parse_money, show_errors
from extensions import db
from models import Policy, Service, Territory, Vet
from rendering import done, render_page
from services import resources
from services.errors import DomainError

bp = Blueprint("resources", __name__, url_prefix="/resources")


class ServiceForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    duration_minutes = IntegerField("Duration (minutes)", default=30,
                                    validators=[InputRequired(), NumberRange(min=5, max=24 * 60)])
    base_price = StringField("Base price", validators=[InputRequired()])
    active = BooleanField("Active", default=True)


class VetForm(FlaskForm):
    clinic = StringField("Clinic", validators=[InputRequired(), Length(max=160)])
    phone = StringField("Phone", validators=[Length(max=40)])
    address = StringField("Address", validators=[Length(max=300)])


class TerritoryForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    zip_codes = TextAreaField("Zip codes", description="Separate zip codes with commas or spaces.")


class PolicyForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired(), Length(max=160)])
    body = TextAreaField("Text", validators=[InputRequired()])
    required_at_registration = BooleanField("Clients must agree to it when they register")


def _save_service(obj, form):
    try:
        cents = parse_money(form.base_price.data)
    except ValueError as error:
        raise DomainError(str(error), "base_price") from None
    return resources.save_service(obj, form.name.data, form.duration_minutes.data, cents or 0, form.active.data)


def _fill_service(form, obj):
    form.base_price.data = cents_to_text(obj.base_price_cents)


def _fill_territory(form, obj):
    form.zip_codes.data = obj.zip_codes


@dataclass(frozen=True)
class Kind:
    model: type
    form: type
    title: str
    singular: str
    save: Callable
    fill: Callable | None = None


KINDS = {
    "services": Kind(Service, ServiceForm, "Services", "service", _save_service, _fill_service),
    "vets": Kind(Vet, VetForm, "Vets", "vet",
                 lambda obj, f: resources.save_vet(obj, f.clinic.data, f.phone.data, f.address.data)),
    "territories": Kind(Territory, TerritoryForm, "Territories", "territory",
                        lambda obj, f: resources.save_territory(obj, f.name.data, f.zip_codes.data), _fill_territory),
    "policies": Kind(Policy, PolicyForm, "Policies", "policy",
                     lambda obj, f: resources.save_policy(obj, f.title.data, f.body.data,
                                                          f.required_at_registration.data)),
}


def kind_or_404(kind: str) -> Kind:
    if kind not in KINDS:
        abort(404)
    return KINDS[kind]


def _list_page(kind: str, form, status: int = 200, obj=None):
    spec = KINDS[kind]
    return render_page("resources/index.html", "resources/_form.html", status=status, kind=kind, spec=spec,
                       kinds=KINDS, items=resources.list_of(spec.model), form=form, obj=obj)


@bp.get("/<kind>/")
@manager_required
def index(kind: str):
    spec = kind_or_404(kind)
    return _list_page(kind, spec.form(formdata=None))


@bp.post("/<kind>/")
@manager_required
def create(kind: str):
    spec = kind_or_404(kind)
    form = spec.form()
    if form.validate_on_submit():
        try:
            spec.save(None, form)
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            return done(f"Added the {spec.singular}.", url_for("resources.index", kind=kind))
    return _list_page(kind, form, 422)


@bp.get("/<kind>/<int:item_id>/edit")
@manager_required
def edit(kind: str, item_id: int):
    spec = kind_or_404(kind)
    obj = db.get_or_404(spec.model, item_id)
    form = spec.form(obj=obj)
    if spec.fill:
        spec.fill(form, obj)
    return render_page("resources/edit.html", "resources/_form.html", kind=kind, spec=spec, kinds=KINDS, form=form,
                       obj=obj)


@bp.post("/<kind>/<int:item_id>")
@manager_required
def update(kind: str, item_id: int):
    spec = kind_or_404(kind)
    obj = db.get_or_404(spec.model, item_id)
    form = spec.form()
    if form.validate_on_submit():
        try:
            spec.save(obj, form)
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            return done(f"Saved the {spec.singular}.", url_for("resources.index", kind=kind))
    return render_page("resources/edit.html", "resources/_form.html", status=422, kind=kind, spec=spec, kinds=KINDS,
                       form=form, obj=obj)


@bp.post("/<kind>/<int:item_id>/delete")
@manager_required
def delete(kind: str, item_id: int):
    spec = kind_or_404(kind)
    obj = db.get_or_404(spec.model, item_id)
    resources.delete_resource(obj)
    return done(f"Deleted the {spec.singular}.", url_for("resources.index", kind=kind))


@bp.get("/vets/inline")
@manager_required
def new_vet_inline():
    """The small "new vet" fields shown beside the vet select in a client form."""
    return render_template("resources/_vet_inline.html", form=VetForm(formdata=None, prefix="new_vet"))


@bp.post("/vets/inline")
@manager_required
def create_vet_inline():
    """Create a vet from the client form and answer with the vet select, the new vet chosen."""
    form = VetForm(prefix="new_vet")
    if form.validate_on_submit():
        try:
            vet = resources.save_vet(None, form.clinic.data, form.phone.data, form.address.data)
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            from blueprints.clients import vet_choices

            return render_template("clients/_vet_field.html", vets=vet_choices(), selected=vet.id, errors=[],
                                   notice=f"Added {vet.clinic}.")
    return render_template("resources/_vet_inline.html", form=form), 422


@bp.get("/vets/field")
@manager_required
def vet_field():
    """The vet select of the client form, as it was before "New vet" was pressed."""
    from blueprints.clients import vet_choices

    return render_template("clients/_vet_field.html", vets=vet_choices(), selected=None, errors=[])
