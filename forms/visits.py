"""Visits: the request form (clients, and staff adding visits), cancelling, block-outs, staff decisions."""
from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, FieldList, Form, FormField, HiddenField, RadioField, SelectField
from wtforms import StringField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, Optional

from filters import clock
from forms.fields import MoneyField, MultiCheckboxField
from models import CUSTOM, WINDOWS

WEEKDAYS = [(6, "Sun"), (0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat")]
DAY_SLOTS = 3


def window_choices() -> list[tuple[str, str]]:
    """Morning, midday and evening with their hours, then a custom range."""
    choices = [(key, f"{label} ({clock(start)}–{clock(end)})") for key, (label, start, end) in WINDOWS.items()]
    return choices + [(CUSTOM, "Between two times")]


class RequestForm(FlaskForm):
    services = MultiCheckboxField("Services", coerce=int, validate_choice=False)
    mode = RadioField("Which days", default="range", choices=[
        ("range", "Every day from the first to the last day"),
        ("weekly", "Some weekdays, every week"),
        ("days", "Chosen days"),
    ])
    start = DateField("First day", validators=[Optional()])
    end = DateField("Last day", validators=[Optional()])
    weekdays = MultiCheckboxField("On these weekdays", coerce=int, choices=WEEKDAYS)
    days = FieldList(DateField("Day", validators=[Optional()]), min_entries=DAY_SLOTS)
    window = RadioField("Time of day", default="morning")
    start_time = TimeField("From", validators=[Optional()])
    end_time = TimeField("To", validators=[Optional()])
    pets = MultiCheckboxField("Pets", coerce=int, validate_choice=False)
    notes = TextAreaField("Notes for the sitter", validators=[Length(max=2000)],
                          description="Feeding, medication, where the leash is…")

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

    sitter_id = SelectField("Sitter", coerce=int, validate_choice=False)
    price = MoneyField("Price per visit", description="Leave blank for the client's price on each day.")

    def offer_sitters(self, choices: list, suggested) -> None:
        self.sitter_id.choices = sitter_choices(choices)
        if not self.is_submitted():
            self.sitter_id.data = suggested.id if suggested else 0


def sitter_choices(choices: list) -> list[tuple[int, str]]:
    """(staff, "primary"/"secondary"/"") pairs as select options, after a "Choose" prompt."""
    return [(0, "Choose a sitter")] + [(user.id, f"{user.name} ({tag})" if tag else user.name)
                                       for user, tag in choices]


class CancelForm(FlaskForm):
    reason = TextAreaField("Why is it cancelled?", validators=[InputRequired(message="Say why (the client reads it)."),
                                                               Length(max=2000)])


class BlockOutForm(FlaskForm):
    starts_on = DateField("First day", validators=[InputRequired(message="Choose the first day.")])
    ends_on = DateField("Last day", validators=[Optional()], description="Leave blank for one day.")
    note = StringField("Note for clients", validators=[Length(max=300)],
                       description="For example: Closed for the holidays.")


class VisitDecision(Form):
    visit_id = HiddenField()
    approve = BooleanField("Approve", default=True)
    start = TimeField("From", validators=[Optional()])
    end = TimeField("To", validators=[Optional()])
    price = MoneyField("Price")


class DecisionForm(FlaskForm):
    visits = FieldList(FormField(VisitDecision))
    sitter_id = SelectField("Sitter", coerce=int, validate_choice=False)
    reason = TextAreaField("Why some or all are declined", validators=[Length(max=2000)],
                           description="The client reads this in the email.")
