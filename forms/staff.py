"""The team page: adding staff and changing their role or access."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from models import MIN_PASSWORD_LENGTH, Role

ROLE_CHOICES = [(r.value, r.label) for r in Role]


class StaffForm(FlaskForm):
    first_name = StringField("First name", validators=[InputRequired(), Length(max=80)])
    last_name = StringField("Last name", validators=[Length(max=80)])
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.SITTER.value)
    password = PasswordField(
        "Temporary password",
        validators=[InputRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters; share it privately.",
    )


class StaffUpdateForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Can sign in")
