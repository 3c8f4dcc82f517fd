"""The business's resources: services, vets, territories and policies."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from filters import lazy_gettext as _l
from forms.fields import MoneyField


class ServiceForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    duration_minutes = IntegerField(_l("Duration (minutes)"), default=30,
                                    validators=[InputRequired(), NumberRange(min=5, max=24 * 60)])
    base_price = MoneyField(_l("Base price"), validators=[InputRequired()])
    active = BooleanField(_l("Active"), default=True)

    def show(self, service) -> None:
        self.base_price.data = service.base_price_cents


class VetForm(FlaskForm):
    clinic = StringField(_l("Clinic"), validators=[InputRequired(), Length(max=160)])
    phone = StringField(_l("Phone"), validators=[Length(max=40)])
    address = StringField(_l("Address"), validators=[Length(max=300)])

    def show(self, vet) -> None:
        pass


class TerritoryForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=120)])
    zip_codes = TextAreaField(_l("Zip codes"), description=_l("Separate zip codes with commas or spaces."))

    def show(self, territory) -> None:
        self.zip_codes.data = territory.zip_codes


class PolicyForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=160)])
    body = TextAreaField(_l("Text"), validators=[InputRequired()])
    required_at_registration = BooleanField(_l("Clients must agree to it when they register"))

    def show(self, policy) -> None:
        pass
