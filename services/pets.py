"""Pet profiles: saving with field rules, partial birth dates, and photos."""
from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from extensions import db
from filters import gettext as _
from models import (
    ClientLogin, ClientProfile, Document, FormResponse, Pet, Photo, StaffUser, Vaccination, tidy_species, visit_pet,
)
from services import signals
from services.clients import visible_client_ids
from services.errors import DomainError, FieldErrors
from services.settings import apply_field_rules
from services.uploads import drop_file_after_commit, intake_image, jpeg_bytes, keep_file, read_upload, stored_path

PHOTO_MAX_SIDE = 1600

PET_FIELDS = ("name", "species", "breed", "sex", "colour", "weight", "born_year", "born_month", "born_day",
              "description", "care_notes", "feeding", "medications", "active")


def check_born(year: int | None, month: int | None, day: int | None, today: date) -> str | None:
    """Why a partial birth date is invalid, or None."""
    if year is None:
        return _("Give the year first.") if (month or day) else None
    if day and not month:
        return _("Give the month with the day.")
    if not 1900 <= year <= today.year:
        return _("Enter a year between 1900 and %(year)d.", year=today.year)
    if month and not 1 <= month <= 12:
        return _("Enter a month from 1 to 12.")
    try:
        born = date(year, month or 1, day or 1)
    except ValueError:
        return _("That day does not exist in that month.")
    if born > today:
        return _("The birth date cannot be in the future.")
    return None


def save_pet(pet: Pet | None, client: ClientProfile, values: dict, vaccinations: list[tuple[str, date | None]],
             photo_upload=None, photo_id: int | None = None, today: date | None = None) -> Pet:
    """Create or update a pet; a new photo upload wins over picking a previous photo."""
    today = today or date.today()
    values = dict(values)
    values["vaccinations"] = [n for n, _ in vaccinations]
    values["photo"] = "yes" if (photo_upload or photo_id or (pet and pet.photo_id)) else ""
    values = apply_field_rules("pet", values)
    errors: dict[str, str] = {}
    if not (values.get("name") or "").strip():
        errors["name"] = _("Enter the pet's name.")
    if not (values.get("species") or "").strip():
        errors["species"] = _("Enter the species, e.g. Dog or Cat.")
    if "born_year" in values:
        problem = check_born(values.get("born_year"), values.get("born_month"), values.get("born_day"), today)
        if problem:
            errors["born_year"] = problem
    weight = values.get("weight")
    if weight is not None and (weight <= 0 or weight > Decimal("500")):
        errors["weight"] = _("Enter a weight between 0 and 500.")
    for name, expires in vaccinations:
        if expires and not name.strip():
            errors["vaccinations"] = _("Give each vaccination a name.")
    picked = None
    if photo_id:
        picked = db.session.scalar(select(Photo).where(Photo.id == photo_id, Photo.client_id == client.id))
        if picked is None:
            errors["photo"] = _("Choose one of this client's photos.")
    if errors:
        raise FieldErrors(errors)
    stored = None
    if photo_upload is not None and "photo" in values:
        try:
            stored = store_photo(client, photo_upload)
        except DomainError as error:
            raise FieldErrors({"photo": error.message}) from None

    pet = pet or Pet(client=client)
    db.session.add(pet)
    if values.get("species"):
        values["species"] = tidy_species(values["species"])
    for name in PET_FIELDS:
        if name in values:
            value = values[name]
            if value is None and name not in ("weight", "born_year", "born_month", "born_day", "active"):
                value = ""
            setattr(pet, name, value.strip() if isinstance(value, str) else value)
    if "born_year" in values:
        pet.born_month = values.get("born_month") if values.get("born_year") else None
        pet.born_day = values.get("born_day") if pet.born_month else None
    if "vaccinations" in values:
        pet.vaccinations = [Vaccination(name=n.strip(), expires_on=e) for n, e in vaccinations if n.strip()]
    if stored is not None:
        pet.photo = stored
    elif picked is not None:
        pet.photo = picked
    client.refresh_search_text()
    db.session.flush()
    signals.pet_changed.send(pet)
    return pet


def load_pet(pet_id: int, viewer: StaffUser | ClientLogin) -> Pet | None:
    """A pet of a client the viewer may see; sitters and clients see active pets only."""
    pet = db.session.scalar(
        select(Pet).where(Pet.id == pet_id, Pet.client_id.in_(visible_client_ids(viewer)))
        .options(joinedload(Pet.client), joinedload(Pet.photo), selectinload(Pet.vaccinations))
    )
    if pet is None or (not pet.active and not (viewer.is_staff and viewer.can_manage)):
        return None
    return pet


def load_photo(photo_id: int, viewer: StaffUser | ClientLogin) -> Photo | None:
    """A pet photo of a client the viewer may see."""
    return db.session.scalar(select(Photo).where(Photo.id == photo_id, Photo.client_id.in_(visible_client_ids(viewer))))


def photo_path(photo: Photo) -> str:
    return stored_path("photos", photo.stored_name)


def store_photo(client: ClientProfile, upload) -> Photo:
    """Take in an uploaded pet photo (services.uploads) and keep it privately as a JPEG under a random name."""
    data = read_upload(upload, current_app.config["PHOTO_MAX_BYTES"], "photo", "photo")
    image = intake_image(data, "photo", PHOTO_MAX_SIDE, _("Upload a JPEG, PNG or WebP image."),
                         _("This file is not an image we can read."))
    photo = Photo(client_id=client.id, stored_name=secrets.token_hex(16) + ".jpg", width=image.width,
                  height=image.height)
    keep_file(photo_path(photo), jpeg_bytes(image, 85))
    db.session.add(photo)
    db.session.flush()
    return photo


def client_photos(client: ClientProfile) -> list[Photo]:
    return list(db.session.scalars(select(Photo).where(Photo.client_id == client.id).order_by(Photo.id.desc())))


def history_of(pet: Pet) -> int:
    """How many visits and form answers the pet is part of (kept forever)."""
    visits = db.session.scalar(select(func.count()).select_from(visit_pet).where(visit_pet.c.pet_id == pet.id))
    answers = db.session.scalar(select(func.count(FormResponse.id)).where(FormResponse.pet_id == pet.id))
    return visits + answers


def delete_pet(pet: Pet) -> None:
    """Delete a pet with no history, with its documents and (unless another pet shows it) its photo."""
    if history_of(pet):
        raise DomainError(_("%(name)s is part of visits or form answers on record, which are kept: mark the pet "
                            "inactive instead.", name=pet.name))
    for document in db.session.scalars(select(Document).where(Document.pet_id == pet.id)):
        drop_file_after_commit(stored_path("documents", document.stored_name))
    photo = pet.photo
    client = pet.client
    db.session.delete(pet)
    db.session.flush()
    if photo is not None and not db.session.scalar(select(func.count(Pet.id)).where(Pet.photo_id == photo.id)):
        drop_file_after_commit(photo_path(photo))
        db.session.delete(photo)
    db.session.expire(client, ["pets"])
    client.refresh_search_text()
    signals.client_changed.send(client)


def set_pet_active(pet: Pet, active: bool) -> Pet:
    pet.active = active
    signals.pet_changed.send(pet)
    return pet
