"""The public intake form for new clients."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, FieldList, Form, FormField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from filters import lazy_gettext as _l
from forms.fields import coerce_optional_int


class PetRow(Form):
    name = StringField(_l("Pet's name"), validators=[Length(max=80)])
    species = StringField(_l("Kind of animal"), validators=[Length(max=40)], description=_l("Dog, cat, rabbit…"))
    breed = StringField(_l("Breed"), validators=[Length(max=80)])
    age = StringField(_l("Age, in years"), validators=[Length(max=3)])


class IntakeForm(FlaskForm):
    """No session CSRF token (the form may be embedded in the business's website, where its cookies are not
    sent): `form_key`, signed with the time the form was served, stands in for it (services.intake)."""

    class Meta:
        csrf = False

    first_name = StringField(_l("First name"), validators=[Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[Length(max=80)])
    email = EmailField(_l("Email"), validators=[Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Length(max=40)])
    address_line1 = StringField(_l("Street address"), validators=[Length(max=200)])
    city = StringField(_l("City"), validators=[Length(max=100)])
    zip = StringField(_l("ZIP code"), validators=[Length(max=12)])
    pets = FieldList(FormField(PetRow), min_entries=2, max_entries=4)
    service_id = SelectField(_l("Service you would like"), coerce=coerce_optional_int, validate_choice=False)
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    notes = TextAreaField(_l("Anything else we should know"), validators=[Length(max=2000)])
    form_key = HiddenField()
    # Left empty by people (hidden from them and from screen readers); robots fill every field.
    website = StringField(_l("Leave this empty"))
