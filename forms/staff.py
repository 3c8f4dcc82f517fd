"""The team page (adding staff, their role and access) and a staff member's own account page."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from filters import lazy_gettext as _l
from forms.auth import PASSWORD_RULE
from models import Role

ROLE_CHOICES = [(r.value, r.label) for r in Role]


class StaffForm(FlaskForm):
    """The owner adds a team member; they are emailed a link to choose their own password."""

    first_name = StringField(_l("First name"), validators=[InputRequired(), Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[Length(max=80)])
    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)],
                       description=_l("They sign in with it; we email them a link to choose their password."))
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.SITTER.value)


class StaffUpdateForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    active = BooleanField(_l("Can sign in"))


class OwnDetailsForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=[InputRequired(message=_l("Enter your first name.")),
                                                           Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[Length(max=80)])
    email = EmailField(_l("Email"), validators=[InputRequired(message=_l("Enter your email.")), Length(max=254)],
                       description=_l("You sign in with it."))
    password = PasswordField(_l("Current password"), validators=[Length(max=200)], id="email-password",
                             description=_l("Only to change the email you sign in with."))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[InputRequired(message=_l("Enter your current password."))])
    password = PasswordField(_l("New password"), validators=[InputRequired(message=_l("Choose a password.")),
                                                             Length(max=200)], description=PASSWORD_RULE)
    confirm = PasswordField(_l("New password again"), validators=[
        InputRequired(message=_l("Type the password again.")), EqualTo("password", message=_l("The passwords differ."))])


CODE_HINT = _l("The 6-digit code your authenticator app shows now, or one of your recovery codes.")


class TwoFactorCodeForm(FlaskForm):
    """A code from the authenticator app (or a recovery code): the second step of signing in, and turning it off."""

    code = StringField(_l("Code"), validators=[InputRequired(message=_l("Type the code from your app.")),
                                               Length(max=40)], description=CODE_HINT)


class TwoFactorSetupForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[
        InputRequired(message=_l("Type the 6-digit code the app shows.")), Length(max=40)],
        description=_l("After adding Pawtal to the app, type the 6 digits it shows now."))


class NewRecoveryCodesForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[
        InputRequired(message=_l("Type the 6-digit code the app shows.")), Length(max=40)],
        description=_l("Your old recovery codes stop working."))


class TwoFactorRuleForm(FlaskForm):
    managers_need_two_factor = BooleanField(_l("Managers must use two-factor sign-in"))
