"""The first-run setup page: the owner's account and the business's details, in one form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from filters import lazy_gettext as _l
from forms.auth import PASSWORD_RULE


class SetupForm(FlaskForm):
    token = HiddenField()
    first_name = StringField(_l("First name"), validators=[InputRequired(message=_l("Enter your first name.")),
                                                           Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[Length(max=80)])
    email = EmailField(_l("Your email"), validators=[InputRequired(message=_l("Enter your email.")), Length(max=254)],
                       description=_l("You sign in with it."))
    password = PasswordField(_l("Password"), validators=[InputRequired(message=_l("Choose a password.")),
                                                         Length(max=200)], description=PASSWORD_RULE)
    confirm = PasswordField(_l("Password again"), validators=[
        InputRequired(message=_l("Type the password again.")),
        EqualTo("password", message=_l("The passwords differ."))])
    business_name = StringField(_l("Business name"), validators=[
        InputRequired(message=_l("Enter the business's name.")), Length(max=160)])
    business_email = EmailField(_l("Business email"), validators=[
        InputRequired(message=_l("Enter the business's email: clients write to it and the office's notices go to it.")),
        Length(max=254)],
                                description=_l("Clients write to it; the office's notices go to it."))
    business_phone = StringField(_l("Business phone"), validators=[
        InputRequired(message=_l("Enter the business's phone number: every email tells clients to call it.")),
        Length(max=40)],
                                 description=_l("Every email tells clients to call it."))

    def business(self) -> dict:
        return {"name": self.business_name.data, "email": self.business_email.data,
                "phone": self.business_phone.data}
