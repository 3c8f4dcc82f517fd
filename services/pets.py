"""Pet profiles: saving with field rules, partial birth dates, and photos."""
from __future__ import annotations

import io
import os
import secrets
from datetime import date
from decimal import Decimal

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select

from extensions import db
from models import ClientProfile, Pet, Photo, Vaccination
from services.errors import DomainError, FieldErrors
from services.settings import apply_field_rules

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
PHOTO_MAX_SIDE = 1600

PET_FIELDS = ("name", "species", "breed", "sex", "colour", "weight", "born_year", "born_month", "born_day",
              "description", "care_notes", "feeding", "medications", "active")


def describe_age(year: int | None, month: int | None, day: int | None, today: date) -> str:
    """Age in words, as precise as the birth date: "about 7 years", "2 years 3 months", "5 weeks"."""
    if not year:
        return ""
    if not month:
        years = today.year - year
        if years <= 0:
            return "under a year"
        return f"about {years} year{'s' if years != 1 else ''}"
    born = date(year, month, day or 1)
    months = (today.year - born.year) * 12 + today.month - born.month
    if day and today.day < born.day:
        months -= 1
    if months < 0:
        return ""
    if months == 0 and day:
        weeks = (today - born).days // 7
        return f"{weeks} week{'s' if weeks != 1 else ''}" if weeks else "newborn"
    years, rest = divmod(months, 12)
    parts = []
    if years:
        parts.append(f"{years} year{'s' if years != 1 else ''}")
    if rest:
        parts.append(f"{rest} month{'s' if rest != 1 else ''}")
    text = " ".join(parts) or "under a month"
    return text if day else f"about {text}"


def check_born(year: int | None, month: int | None, day: int | None, today: date) -> str | None:
    """Why a partial birth date is invalid, or None."""
    if year is None:
        return "Give the year first." if (month or day) else None
    if day and not month:
        return "Give the month with the day."
    if not 1900 <= year <= today.year:
        return f"Enter a year between 1900 and {today.year}."
    if month and not 1 <= month <= 12:
        return "Enter a month from 1 to 12."
    try:
        born = date(year, month or 1, day or 1)
    except ValueError:
        return "That day does not exist in that month."
    if born > today:
        return "The birth date cannot be in the future."
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
        errors["name"] = "Enter the pet's name."
    if not (values.get("species") or "").strip():
        errors["species"] = "Enter the species, e.g. Dog or Cat."
    if "born_year" in values:
        problem = check_born(values.get("born_year"), values.get("born_month"), values.get("born_day"), today)
        if problem:
            errors["born_year"] = problem
    weight = values.get("weight")
    if weight is not None and (weight <= 0 or weight > Decimal("500")):
        errors["weight"] = "Enter a weight between 0 and 500."
    for name, expires in vaccinations:
        if expires and not name.strip():
            errors["vaccinations"] = "Give each vaccination a name."
    picked = None
    if photo_id:
        picked = db.session.scalar(select(Photo).where(Photo.id == photo_id, Photo.client_id == client.id))
        if picked is None:
            errors["photo"] = "Choose one of this client's photos."
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
    from services import onboarding  # noqa: PLC0415 - avoid an import cycle

    onboarding.refresh(client)
    db.session.commit()
    return pet


def photo_path(photo: Photo) -> str:
    return os.path.join(current_app.config["UPLOAD_FOLDER"], "photos", photo.stored_name)


def store_photo(client: ClientProfile, upload) -> Photo:
    """Verify an uploaded image, re-encode it as a JPEG without metadata, and keep it privately.

    Refuses anything that is not a JPEG, PNG or WebP, files over the size limit, and
    decompression bombs (images whose pixel count is beyond the limit).
    """
    limit = current_app.config["PHOTO_MAX_BYTES"]
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise DomainError(f"The photo is larger than {limit // (1024 * 1024)} MB.", "photo")
    if not data:
        raise DomainError("The photo file is empty.", "photo")
    max_pixels = current_app.config["PHOTO_MAX_PIXELS"]
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            if probe.format not in ALLOWED_FORMATS:
                raise DomainError("Upload a JPEG, PNG or WebP image.", "photo")
            if probe.width * probe.height > max_pixels:
                raise DomainError("The image has too many pixels.", "photo")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    except Image.DecompressionBombError:
        raise DomainError("The image has too many pixels.", "photo") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise DomainError("This file is not an image we can read.", "photo") from None

    photo = Photo(client_id=client.id, stored_name=secrets.token_hex(16) + ".jpg", width=image.width,
                  height=image.height)
    os.makedirs(os.path.dirname(photo_path(photo)), exist_ok=True)
    image.save(photo_path(photo), "JPEG", quality=85, optimize=True)  # no exif= : metadata dropped
    db.session.add(photo)
    db.session.flush()
    return photo


def client_photos(client: ClientProfile) -> list[Photo]:
    return list(db.session.scalars(select(Photo).where(Photo.client_id == client.id).order_by(Photo.id.desc())))


def set_pet_active(pet: Pet, active: bool) -> Pet:
    from services import onboarding  # noqa: PLC0415 - avoid an import cycle

    pet.active = active
    onboarding.refresh(pet.client)
    db.session.commit()
    return pet
