"""Pet profiles (staff and clients) and the documents attached to a pet."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, DecimalField, FieldList, Form, FormField, IntegerField, RadioField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from filters import formatted
from filters import gettext as _
from filters import lazy_gettext as _l
from forms.fields import coerce_optional_int
from models import SEXES, Pet


class VaccinationEntry(Form):
    name = StringField(_l("Vaccination"), validators=[Length(max=120)])
    expires_on = DateField(_l("Expires"), validators=[Optional()])


class PetForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=80)])
    species = StringField(_l("Species"), validators=[InputRequired(), Length(max=40)])
    breed = StringField(_l("Breed"), validators=[Length(max=80)])
    sex = SelectField(_l("Sex"), choices=list(SEXES.items()))
    colour = StringField(_l("Colour"), validators=[Length(max=80)])
    weight = DecimalField(_l("Weight (lb)"), places=2, validators=[Optional(), NumberRange(min=0)])
    born_year = IntegerField(_l("Born: year"), validators=[Optional()])
    born_month = IntegerField(_l("Month"), validators=[Optional()])
    born_day = IntegerField(_l("Day"), validators=[Optional()])
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])
    care_notes = TextAreaField(_l("Care notes"), validators=[Length(max=5000)])
    feeding = TextAreaField(_l("Feeding"), validators=[Length(max=2000)])
    medications = TextAreaField(_l("Medications"), validators=[Length(max=2000)])
    vaccinations = FieldList(FormField(VaccinationEntry), min_entries=1, max_entries=20)
    photo = FileField(_l("Upload a photo"), description=_l("JPEG, PNG or WebP."))
    photo_id = RadioField(_l("Or pick a previous photo"), coerce=coerce_optional_int)
    active = BooleanField(_l("Active"), default=True,
                          description=_l("Inactive pets stay on file but are hidden from sitters and lists."))

    def show_pet(self, pet: Pet | None) -> None:
        """On a first GET: the pet's vaccinations (and an empty row), its photo; a new pet is active."""
        if pet is None:
            self.active.data = True
            return
        while len(self.vaccinations.entries):
            self.vaccinations.pop_entry()
        for vaccination in pet.vaccinations:
            self.vaccinations.append_entry({"name": vaccination.name, "expires_on": vaccination.expires_on})
        self.vaccinations.append_entry()
        self.photo_id.data = pet.photo_id

    def offer_photos(self, photos: list, pets: list, pet: Pet | None = None) -> None:
        """The client's photos, each named by the pet it shows (or that it is not used) and when it came.

        The first choice leaves the photo alone: "Keep as is" when the pet has one, else "No photo" (a new pet
        has nothing to keep)."""
        used_by = {other.photo_id: other.name for other in pets if other.photo_id}
        unchanged = _("Keep as is") if pet is not None and pet.photo_id else _("No photo")
        self.photo_id.choices = [(None, unchanged)] + [
            (p.id, _("%(pet)s's photo, added %(day)s", pet=used_by[p.id], day=formatted(p.created_at))
             if p.id in used_by else _("A photo no pet uses now, added %(day)s", day=formatted(p.created_at)))
            for p in photos]

    def drop_unusable(self) -> None:
        """Without the photo upload (a hidden field), there is nothing to pick from either."""
        if "photo" not in self._fields and "photo_id" in self._fields:
            del self["photo_id"]

    def values(self) -> dict:
        skip = {"csrf_token", "vaccinations", "photo", "photo_id"}
        return {name: field.data for name, field in self._fields.items() if name not in skip}

    def vaccination_values(self) -> list:
        if "vaccinations" not in self._fields:
            return []
        return [(e.data["name"] or "", e.data["expires_on"]) for e in self.vaccinations.entries]

    def upload(self):
        return self.photo.data if "photo" in self._fields and self.photo.data else None

    def picked_photo(self) -> int | None:
        return self.photo_id.data if "photo_id" in self._fields else None


class DocumentForm(FlaskForm):
    title = StringField(_l("What is it?"), validators=[Length(max=160)],
                        description=_l("For example: Rabies certificate 2026."))
    document = FileField(_l("File"), description=_l("A PDF, or a photo or scan (JPEG, PNG or WebP)."))
