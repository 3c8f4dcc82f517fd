"""Signing in, registering, and setting a password (staff and client accounts)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length

from filters import lazy_ngettext
from filters import lazy_gettext as _l
from models import MIN_PASSWORD_LENGTH

PASSWORD_RULE = lazy_ngettext("At least %(num)d character, mixing letters with numbers or symbols.",
                              "At least %(num)d characters, mixing letters with numbers or symbols.",
                              MIN_PASSWORD_LENGTH)


class SignInForm(FlaskForm):
    """One sign-in form for both kinds of account."""

    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired()])
    remember = BooleanField(_l("Keep me signed in on this device"))


class RegisterForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[InputRequired(message=_l("Enter your email.")), Length(max=254)],
                       description=_l("You will sign in with it."))
    password = PasswordField(_l("Password"), validators=[InputRequired(message=_l("Choose a password.")),
                                                         Length(max=200)],
                             description=PASSWORD_RULE)
    confirm = PasswordField(_l("Password again"), validators=[
        InputRequired(message=_l("Type the password again.")),
        EqualTo("password", message=_l("The passwords differ."))])
    first_name = StringField(_l("First name"), validators=[InputRequired(message=_l("Enter your first name.")),
                                                           Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[InputRequired(message=_l("Enter your last name.")),
                                                         Length(max=80)])
    code = StringField(_l("Invitation code"), validators=[Length(max=20)],
                       description=_l("From your invitation email, like ABCD-EFGH. Leave it empty if you have none."))


class ForgotForm(FlaskForm):
    # An address's syntax is checked (not whether it has an account): "abc" is told so, and every well-formed
    # address gets the same answer.
    email = EmailField(_l("Email"), filters=[lambda value: value.strip() if value else value], validators=[
        InputRequired(message=_l("Enter your email.")), Length(max=254),
        Email(message=_l("That is not an email address; write it like name@example.com."))])


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[InputRequired(message=_l("Choose a password.")),
                                                             Length(max=200)], description=PASSWORD_RULE)
    confirm = PasswordField(_l("New password again"), validators=[
        InputRequired(message=_l("Type the password again.")),
        EqualTo("password", message=_l("The passwords differ."))])
