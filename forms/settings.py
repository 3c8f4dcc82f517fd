"""Site options: registration, card on file, portal switches and the cancellation window."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField
from wtforms.validators import InputRequired, NumberRange

from filters import lazy_gettext as _l
from models import PORTAL_FEATURES


class OptionsForm(FlaskForm):
    clients_can_register = BooleanField(_l("Clients can create their own account"))
    billing_requires_card = BooleanField(_l("Billing requires a card on file"),
                                         description=_l("Clients then put a card on file while getting started."))
    accept_bank_accounts = BooleanField(_l("Accept US bank accounts (ACH) as well as cards"))
    cancellation_hours = IntegerField(
        _l("Late cancellation window, in hours"),
        validators=[InputRequired(message=_l("Enter a number of hours, 0 for none.")),
                    NumberRange(0, 720, message=_l("Enter a number of hours from 0 to 720."))],
        description=_l("A client who cancels a booked visit less than this many hours before it starts makes a "
                       "late cancellation, and you are told."))


for _name, _label in PORTAL_FEATURES.items():
    setattr(OptionsForm, _name, BooleanField(_l(_label)))
