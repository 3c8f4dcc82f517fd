"""Site options: registration, card on file, portal switches and the cancellation window."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField
from wtforms.validators import InputRequired, NumberRange

from filters import lazy_gettext as _l
from models import LOCATION_MODES, PORTAL_FEATURES


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

    location_mode = RadioField(_l("The sitter's location at check-in and check-out"),
                               choices=[(k, _l(v)) for k, v in LOCATION_MODES.items()],
                               validators=[InputRequired(message=_l("Choose whether the location is asked."))])
    report_before_checkout = BooleanField(_l("Sitters send the visit report before they can check out"))
    short_visit_percent = IntegerField(
        _l("A visit is short below this share of its service's length, in %"),
        validators=[InputRequired(message=_l("Enter a percentage, 0 to flag none.")),
                    NumberRange(0, 100, message=_l("Enter a percentage from 0 to 100."))],
        description=_l("A 30-minute walk checked out after less than 50% (15 minutes) is flagged to the office."))
    late_grace_minutes = IntegerField(
        _l("A visit is late after its window starts plus, in minutes"),
        validators=[InputRequired(message=_l("Enter a number of minutes, 0 for none.")),
                    NumberRange(0, 240, message=_l("Enter a number of minutes from 0 to 240."))],
        description=_l("With no check-in by then, the office's board shows the visit as late."))
    travel_gap_minutes = IntegerField(
        _l("Travel time a sitter needs between visits, in minutes"),
        validators=[InputRequired(message=_l("Enter a number of minutes, 0 for none.")),
                    NumberRange(0, 240, message=_l("Enter a number of minutes from 0 to 240."))],
        description=_l("Visits booked closer together for one sitter are warned about."))
    key_notices = BooleanField(_l("Warn when a visit goes to a sitter without the client's key"))


for _name, _label in PORTAL_FEATURES.items():
    setattr(OptionsForm, _name, BooleanField(_l(_label)))
