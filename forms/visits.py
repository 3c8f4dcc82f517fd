"""Visits: the request form (clients, and staff adding visits), cancelling, block-outs, staff decisions."""
from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, FieldList, Form, FormField, HiddenField, RadioField, SelectField
from wtforms import StringField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, Optional

from filters import clock
from filters import gettext as _
from filters import lazy_gettext as _l
from forms.fields import MoneyField, MultiCheckboxField
from models import CUSTOM, WINDOWS

WEEKDAYS = [(6, _l("Sun")), (0, _l("Mon")), (1, _l("Tue")), (2, _l("Wed")), (3, _l("Thu")), (4, _l("Fri")),
            (5, _l("Sat"))]
DAY_SLOTS = 3


def window_choices() -> list[tuple[str, str]]:
    """Morning, midday and evening with their hours, then a custom range."""
    choices = [(key, _("%(window)s (%(start)s–%(end)s)", window=label, start=clock(start), end=clock(end)))
               for key, (label, start, end) in WINDOWS.items()]
    return choices + [(CUSTOM, _("Between two times"))]


class RequestForm(FlaskForm):
    services = MultiCheckboxField(_l("Services"), coerce=int, validate_choice=False)
    mode = RadioField(_l("Which days"), default="range", choices=[
        ("range", _l("Every day from the first to the last day")),
        ("weekly", _l("Some weekdays, every week")),
        ("days", _l("Chosen days")),
    ])
    start = DateField(_l("First day"), validators=[Optional()])
    end = DateField(_l("Last day"), validators=[Optional()])
    weekdays = MultiCheckboxField(_l("On these weekdays"), coerce=int, choices=WEEKDAYS)
    days = FieldList(DateField(_l("Day"), validators=[Optional()]), min_entries=DAY_SLOTS)
    window = RadioField(_l("Time of day"), default="morning")
    start_time = TimeField(_l("From"), validators=[Optional()])
    end_time = TimeField(_l("To"), validators=[Optional()])
    pets = MultiCheckboxField(_l("Pets"), coerce=int, validate_choice=False)
    notes = TextAreaField(_l("Notes for the sitter"), validators=[Length(max=2000)],
                          description=_l("Feeding, medication, where the leash is…"))

    def offer(self, services: list, pets: list, day: date | None = None, extra_days: int = 0) -> None:
        """The client's active pets and the active services; `day` pre-fills a clicked day."""
        self.services.choices = [(s.id, s.name) for s in services]
        self.pets.choices = [(p.id, p.name) for p in pets]
        self.window.choices = window_choices()
        while len(self.days.entries) < DAY_SLOTS + extra_days:
            self.days.append_entry()
        if not self.is_submitted():
            if day is not None:
                self.start.data = self.end.data = day
                self.days.entries[0].data = day
            if len(self.pets.choices) == 1:  # the only choice is ticked already
                self.pets.data = [self.pets.choices[0][0]]
            if len(self.services.choices) == 1:
                self.services.data = [self.services.choices[0][0]]

    def first_day(self) -> date | None:
        """The first day asked for, to show the month it is in."""
        if self.mode.data != "days":
            return self.start.data
        return next((entry.data for entry in self.days.entries if entry.data), None)

    def plan_values(self) -> dict:
        """What the visits service needs to plan the visits, as plain values."""
        return {"service_ids": self.services.data or [], "pet_ids": self.pets.data or [],
                "mode": self.mode.data or "range", "start": self.start.data, "end": self.end.data,
                "days": [entry.data for entry in self.days.entries], "weekdays": self.weekdays.data or [],
                "window": self.window.data or "", "start_time": self.start_time.data,
                "end_time": self.end_time.data, "notes": self.notes.data or ""}


class StaffVisitForm(RequestForm):
    """Staff add visits directly: the same choices, plus the sitter and, if they like, the price."""

    # Not validated against the choices: the visits service says why a sitter cannot take the visit.
    sitter_id = SelectField(_l("Sitter"), coerce=int, validate_choice=False)
    price = MoneyField(_l("Price per visit"), description=_l("Leave blank for the client's price on each day."))

    def offer_sitters(self, choices: list, suggested) -> None:
        self.sitter_id.choices = sitter_choices(choices)
        if not self.is_submitted():
            self.sitter_id.data = suggested.id if suggested else 0


def sitter_choices(choices: list) -> list[tuple[int, str]]:
    """(staff, "primary"/"secondary"/"") pairs as select options, after a "Choose" prompt."""
    return [(0, _("Choose a sitter"))] + [(user.id, _sitter_label(user.name, tag)) for user, tag in choices]


def _sitter_label(name: str, tag: str) -> str:
    """A sitter's name, and whether she is the client's primary or secondary sitter."""
    if tag == "primary":
        return _("%(name)s (primary)", name=name)
    if tag == "secondary":
        return _("%(name)s (secondary)", name=name)
    return name


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Why is it cancelled?"), validators=[
        InputRequired(message=_l("Say why (the client reads it).")), Length(max=2000)])


class WaiveFeeForm(FlaskForm):
    """Waive a visit's late cancellation or no-show fee (prefix "waive"): the reason stays on record."""

    reason = TextAreaField(_l("Why is the fee waived?"), validators=[
        InputRequired(message=_l("Say why the fee is waived; it stays on record.")), Length(max=500)])


class ReassignForm(FlaskForm):
    """Give a scheduled visit to another sitter (shown with the prefix "reassign" beside the other forms)."""

    # Not validated against the choices: the visits service says why a sitter cannot take the visit.
    sitter_id = SelectField(_l("New sitter"), coerce=int, validate_choice=False)

    def offer_sitters(self, choices: list) -> None:
        self.sitter_id.choices = sitter_choices(choices)


class MoveForm(FlaskForm):
    """Move a scheduled visit to another day or time (prefix "move")."""

    day = DateField(_l("Day"), validators=[Optional()])
    window = RadioField(_l("Time of day"), validate_choice=False)
    start_time = TimeField(_l("From"), validators=[Optional()])
    end_time = TimeField(_l("To"), validators=[Optional()])

    def offer(self) -> None:
        self.window.choices = window_choices()

    def move_values(self) -> dict:
        return {"day": self.day.data, "window": self.window.data or "", "start": self.start_time.data,
                "end": self.end_time.data}


class BlockOutForm(FlaskForm):
    starts_on = DateField(_l("First day"), validators=[InputRequired(message=_l("Choose the first day."))])
    ends_on = DateField(_l("Last day"), validators=[Optional()], description=_l("Leave blank for one day."))
    note = StringField(_l("Note for clients"), validators=[Length(max=300)],
                       description=_l("For example: Closed for the holidays."))


class VisitDecision(Form):
    visit_id = HiddenField()
    approve = BooleanField(_l("Approve"), default=True)
    start = TimeField(_l("From"), validators=[Optional()])
    end = TimeField(_l("To"), validators=[Optional()])
    price = MoneyField(_l("Price"))


class DecisionForm(FlaskForm):
    visits = FieldList(FormField(VisitDecision))
    # Not validated against the choices: the visits service says why a sitter cannot take the visit.
    sitter_id = SelectField(_l("Sitter"), coerce=int, validate_choice=False)
    reason = TextAreaField(_l("Why some or all are declined"), validators=[Length(max=2000)],
                           description=_l("The client reads this in the email."))
