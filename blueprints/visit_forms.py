"""The visit request form, shared by the client portal and the staff schedule, and its reading into a Plan."""
from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, FieldList, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from extensions import db
from models import ClientProfile, Service
from services import visits
from services.errors import FieldErrors

WEEKDAYS = [(6, "Sun"), (0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat")]
DAY_SLOTS = 3


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes: several of a few choices."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


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


class StaffVisitForm(RequestForm):
    """Staff add visits directly: the same choices, plus the sitter and, if they like, the price."""

    sitter_id = SelectField("Sitter", coerce=int, validate_choice=False)
    price = StringField("Price per visit", description="Leave blank for the client's price on each day.")


def window_choices() -> list[tuple[str, str]]:
    """Morning, midday and evening with their hours, then a custom range."""
    choices = []
    for key, (label, start, end) in visits.WINDOWS.items():
        choices.append((key, f"{label} ({_clock(start)}–{_clock(end)})"))
    choices.append((visits.CUSTOM, "Between two times"))
    return choices


def _clock(at) -> str:
    return at.strftime("%-I:%M %p") if at.minute else at.strftime("%-I %p")


def build_request_form(client: ClientProfile, form_class=RequestForm, day: date | None = None, extra_days: int = 0):
    """The form with this client's pets and the active services; `day` pre-fills a clicked day."""
    form = form_class()
    form.services.choices = [(s.id, f"{s.name}") for s in active_services()]
    form.pets.choices = [(p.id, p.name) for p in client.active_pets]
    form.window.choices = window_choices()
    while len(form.days.entries) < DAY_SLOTS + extra_days:
        form.days.append_entry()
    if not form.is_submitted():
        if day is not None:
            form.start.data = form.end.data = day
            form.days.entries[0].data = day
        if len(form.pets.choices) == 1:  # the only choice is ticked already
            form.pets.data = [form.pets.choices[0][0]]
        if len(form.services.choices) == 1:
            form.services.data = [form.services.choices[0][0]]
    return form


def active_services() -> list[Service]:
    return list(db.session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name)))


def plan_from(form: RequestForm, client: ClientProfile) -> visits.Plan:
    """Read the form into a Plan; every problem is reported at once, beside its field."""
    errors: dict[str, str] = {}
    services = [s for s in active_services() if s.id in set(form.services.data or [])]
    if not services:
        errors["services"] = "Choose at least one service."
    pets = [p for p in client.active_pets if p.id in set(form.pets.data or [])]
    if not pets:
        errors["pets"] = "Choose which pets the visits are for."
    days: list[date] = []
    try:
        days = visits.dates_for(form.mode.data or "range", form.start.data, form.end.data,
                                [entry.data for entry in form.days.entries], form.weekdays.data or [])
    except FieldErrors as error:
        errors.update(error.errors)
    start = end = None
    try:
        start, end = visits.times_for(form.window.data or "", form.start_time.data, form.end_time.data)
    except FieldErrors as error:
        errors.update(error.errors)
    if errors:
        raise FieldErrors(errors)
    return visits.Plan(services, days, form.window.data, start, end, pets, form.notes.data or "")
