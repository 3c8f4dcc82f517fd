"""The team page: adding staff and changing their role or access."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from models import MIN_PASSWORD_LENGTH, Role

ROLE_CHOICES = [(r.value, r.label) for r in Role]


class StaffForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=[InputRequired(), Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[Length(max=80)])
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.SITTER.value)
    password = PasswordField(
        _l("Temporary password"),
        validators=[InputRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)],
        description=lazy_ngettext("At least %(num)d character; share it privately.",
                                   "At least %(num)d characters; share it privately.", MIN_PASSWORD_LENGTH),
    )


class StaffUpdateForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    active = BooleanField(_l("Can sign in"))
