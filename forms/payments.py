"""Paying online: the client's pay form and autopay consent; staff charging the card on file."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Length

from filters import lazy_gettext as _l
from forms.fields import MoneyField, MultiCheckboxField


class PayForm(FlaskForm):
    """What to pay (open invoices, each for what is due), a tip, and with what. The view sets the choices."""

    invoices = MultiCheckboxField(_l("What to pay"), coerce=int,
                                  validators=[InputRequired(_l("Choose at least one invoice to pay."))])
    tip = RadioField(_l("Add a tip for your sitter"), default="none")
    tip_other = MoneyField(_l("Tip amount"))
    method = RadioField(_l("Pay with"), validators=[InputRequired(_l("Choose how to pay."))])
    keep = BooleanField(_l("Keep a new card on file for later payments (it replaces the card on file)"))


class AutopayForm(FlaskForm):
    agree = BooleanField(_l("I agree to these terms"), validators=[InputRequired(_l("Tick the box to agree."))])


class ChargeForm(FlaskForm):
    """Staff charging the client's card on file, with the client's authorisation."""

    amount = MoneyField(_l("Amount to charge"), validators=[InputRequired(_l("Enter the amount."))])
    authorisation = TextAreaField(
        _l("How the client authorised it"), validators=[InputRequired(_l(
            "Say how the client authorised this charge (when, and how they told you).")), Length(max=500)],
        description=_l("For example: by phone on Tuesday, spoke with Jane."))
    confirmed = BooleanField(_l("The client authorised this charge to their card on file"),
                             validators=[InputRequired(_l("Tick the box to confirm the client's authorisation."))])
    # This form's own key: sent twice (a double click, a resend) it is one charge; a new form is a new charge.
    key = HiddenField()
