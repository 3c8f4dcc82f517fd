"""Pet profiles: the pet table, profiles, editing and photos."""
from __future__ import annotations

from flask import Blueprint, abort, request, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import BooleanField, DateField, DecimalField, FieldList, Form, FormField, IntegerField, RadioField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from access import manager_required, staff_required
from blueprints.clients import apply_rules, client_or_404
from blueprints.forms import coerce_optional_int, show_errors
from extensions import db
from models import ClientProfile, Document, Pet, Photo
from rendering import done, render_page
from services import documents
from services import pets as pet_service
from services.clients import visible_clients
from services.errors import DomainError
from services.settings import form_field_rules

bp = Blueprint("pets", __name__, url_prefix="/pets")

SEXES = ["", "Female", "Female (spayed)", "Male", "Male (neutered)", "Unknown"]
PETS_PER_PAGE = 25


class VaccinationEntry(Form):
    name = StringField("Vaccination", validators=[Length(max=120)])
    expires_on = DateField("Expires", validators=[Optional()])


class PetForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=80)])
    species = StringField("Species", validators=[InputRequired(), Length(max=40)])
    breed = StringField("Breed", validators=[Length(max=80)])
    sex = SelectField("Sex", choices=[(s, s or "—") for s in SEXES])
    colour = StringField("Colour", validators=[Length(max=80)])
    weight = DecimalField("Weight (lb)", places=2, validators=[Optional(), NumberRange(min=0)])
    born_year = IntegerField("Born: year", validators=[Optional()])
    born_month = IntegerField("Month", validators=[Optional()])
    born_day = IntegerField("Day", validators=[Optional()])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    care_notes = TextAreaField("Care notes", validators=[Length(max=5000)])
    feeding = TextAreaField("Feeding", validators=[Length(max=2000)])
    medications = TextAreaField("Medications", validators=[Length(max=2000)])
    vaccinations = FieldList(FormField(VaccinationEntry), min_entries=1, max_entries=20)
    photo = FileField("Upload a photo", description="JPEG, PNG or WebP.")
    photo_id = RadioField("Or pick a previous photo", coerce=coerce_optional_int, validate_choice=False)
    active = BooleanField("Active", default=True, description="Inactive pets stay on file but are hidden from "
                                                               "sitters and lists.")


def pet_or_404(pet_id: int) -> Pet:
    """The pet, if its client is visible to the signed-in staff member; sitters see active pets only."""
    pet = db.session.scalar(
        select(Pet)
        .where(Pet.id == pet_id, Pet.client_id.in_(visible_clients(current_user).with_only_columns(ClientProfile.id)))
        .options(joinedload(Pet.client), joinedload(Pet.photo), selectinload(Pet.vaccinations))
    )
    if pet is None or (not pet.active and not current_user.can_manage):
        abort(404)
    return pet


def build_pet_form(client: ClientProfile, pet: Pet | None = None) -> PetForm:
    form = PetForm(obj=pet) if request.method == "GET" else PetForm()
    if request.method == "GET":
        if pet is not None:
            while len(form.vaccinations.entries):
                form.vaccinations.pop_entry()
            for vaccination in pet.vaccinations:
                form.vaccinations.append_entry({"name": vaccination.name, "expires_on": vaccination.expires_on})
            form.vaccinations.append_entry()
            form.photo_id.data = pet.photo_id
        else:
            form.active.data = True
    photos = pet_service.client_photos(client)
    form.photo_id.choices = [(None, "Keep as is")] + [(p.id, f"Photo {p.id}") for p in photos]
    apply_rules(form, form_field_rules("pet"))
    if "photo" not in form._fields and "photo_id" in form._fields:
        del form["photo_id"]
    return form


def pet_values(form: PetForm) -> dict:
    skip = {"csrf_token", "vaccinations", "photo", "photo_id"}
    return {name: field.data for name, field in form._fields.items() if name not in skip}


def vaccination_values(form: PetForm) -> list:
    if "vaccinations" not in form._fields:
        return []
    return [(e.data["name"] or "", e.data["expires_on"]) for e in form.vaccinations.entries]


def save_pet_form(form: PetForm, client: ClientProfile, pet: Pet | None) -> Pet | None:
    """Save a pet form (staff desk or client portal); on refusal the errors go beside the fields."""
    upload = form.photo.data if "photo" in form._fields and form.photo.data else None
    picked = form.photo_id.data if "photo_id" in form._fields else None
    try:
        return pet_service.save_pet(pet, client, pet_values(form), vaccination_values(form), upload, picked)
    except DomainError as error:
        db.session.rollback()
        show_errors(form, error, {"vaccinations": "vaccinations", "photo": "photo"})
        return None


@bp.get("/")
@staff_required()
def index():
    q = request.args.get("q", "").strip()[:100]
    show_inactive = request.args.get("inactive") == "1" and current_user.can_manage
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    stmt = select(Pet).join(Pet.client).where(Pet.client_id.in_(visible_clients(current_user).with_only_columns(
        ClientProfile.id)))
    if not show_inactive:
        stmt = stmt.where(Pet.active.is_(True))
    for term in q.split():
        like = f"%{term.lower()}%"
        stmt = stmt.where(or_(func.lower(Pet.name).like(like), func.lower(Pet.breed).like(like),
                              func.lower(Pet.species).like(like), func.lower(ClientProfile.last_name).like(like)))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(
        stmt.options(joinedload(Pet.client)).order_by(Pet.name, Pet.id).limit(PETS_PER_PAGE)
        .offset((page - 1) * PETS_PER_PAGE)
    ).all()
    args = {k: v for k, v in {"q": q, "inactive": "1" if show_inactive else ""}.items() if v}
    return render_page(
        "pets/index.html", {"desk": "pets/_table_view.html", "pet-rows": "pets/_rows.html"},
        push_url=url_for("pets.index", **args, **({"page": page} if page > 1 else {})),
        rows=rows, total=total, page=page, pages=max(1, -(-total // PETS_PER_PAGE)), q=q,
        show_inactive=show_inactive, args=args,
    )


@bp.get("/<int:pet_id>")
@staff_required()
def show(pet_id: int):
    pet = pet_or_404(pet_id)
    return render_page("pets/show.html", "pets/_profile.html", pet=pet)


@bp.get("/new")
@manager_required
def new():
    client = client_or_404(request.args.get("client_id", type=int) or 0)
    form = build_pet_form(client)
    return render_page("pets/edit.html", "pets/_form.html", form=form, client=client, pet=None)


@bp.post("/")
@manager_required
def create():
    client = client_or_404(request.args.get("client_id", type=int) or 0)
    form = build_pet_form(client)
    if form.validate_on_submit():
        pet = save_pet_form(form, client, None)
        if pet is not None:
            return done(f"Added {pet.name}.", url_for("pets.show", pet_id=pet.id), "pets/_profile.html",
                        pet=pet_or_404(pet.id))
    return render_page("pets/edit.html", "pets/_form.html", status=422, form=form, client=client, pet=None)


@bp.get("/<int:pet_id>/edit")
@manager_required
def edit(pet_id: int):
    pet = pet_or_404(pet_id)
    return render_page("pets/edit.html", "pets/_form.html", form=build_pet_form(pet.client, pet), client=pet.client,
                       pet=pet)


@bp.post("/<int:pet_id>")
@manager_required
def update(pet_id: int):
    pet = pet_or_404(pet_id)
    form = build_pet_form(pet.client, pet)
    if form.validate_on_submit():
        saved = save_pet_form(form, pet.client, pet)
        if saved is not None:
            return done(f"Saved {saved.name}.", url_for("pets.show", pet_id=pet_id), "pets/_profile.html",
                        pet=pet_or_404(pet_id))
    return render_page("pets/edit.html", "pets/_form.html", status=422, form=form, client=pet.client, pet=pet)


@bp.get("/photos/<int:photo_id>")
@staff_required()
def photo(photo_id: int):
    """A pet photo, only for staff who may see its client; never from a public path."""
    found = db.session.scalar(
        select(Photo).where(Photo.id == photo_id,
                            Photo.client_id.in_(visible_clients(current_user).with_only_columns(ClientProfile.id)))
    )
    if found is None:
        abort(404)
    response = send_file(pet_service.photo_path(found), mimetype="image/jpeg", max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/documents/<int:document_id>")
@staff_required()
def document(document_id: int):
    """A client's document (a pet's certificate or a form answer), for staff who may see that client."""
    item = db.session.get(Document, document_id)
    if item is None:
        abort(404)
    client_or_404(item.client_id)  # sitters: assigned clients only
    return send_document(item)


def send_document(item: Document):
    """Send a stored document: named for download, never cached by shared caches, sandboxed if opened."""
    response = send_file(documents.document_path(item), mimetype=item.content_type, max_age=0,
                         as_attachment=item.content_type == "application/pdf",
                         download_name=item.original_name or f"document-{item.id}")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response
