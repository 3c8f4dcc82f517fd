"""Signing in, registering, and setting a password (staff and client accounts)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from models import MIN_PASSWORD_LENGTH

PASSWORD_RULE = f"At least {MIN_PASSWORD_LENGTH} characters, mixing letters with numbers or symbols."


class SignInForm(FlaskForm):
    """One sign-in form for both kinds of account."""

    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired()])
    remember = BooleanField("Keep me signed in on this device")


class RegisterForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(message="Enter your email."), Length(max=254)],
                       description="You will sign in with it.")
    password = PasswordField("Password", validators=[InputRequired(message="Choose a password."), Length(max=200)],
                             description=PASSWORD_RULE)
    confirm = PasswordField("Password again", validators=[
        InputRequired(message="Type the password again."), EqualTo("password", message="The passwords differ.")])
    first_name = StringField("First name", validators=[InputRequired(message="Enter your first name."),
                                                       Length(max=80)])
    last_name = StringField("Last name", validators=[InputRequired(message="Enter your last name."), Length(max=80)])
    code = StringField("Invitation code", validators=[Length(max=20)],
                       description="From your invitation email, like ABCD-EFGH. Leave it empty if you have none.")


class ForgotForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(message="Enter your email."), Length(max=254)])


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[InputRequired(message="Choose a password."),
                                                         Length(max=200)], description=PASSWORD_RULE)
    confirm = PasswordField("New password again", validators=[
        InputRequired(message="Type the password again."), EqualTo("password", message="The passwords differ.")])
