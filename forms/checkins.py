"""The visit as it happens: the check-in/out taps, the report card, photos, and a manager's corrections."""
from __future__ import annotations

from datetime import datetime, timezone

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateTimeLocalField, HiddenField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from filters import gettext as _
from filters import lazy_gettext as _l
from filters import local_zone
from models import MOODS, REPORT_NOTES_MAX


class TapForm(FlaskForm):
    """Check in, check out or undo: one button; the phone's position in hidden fields when allowed."""

    latitude = HiddenField()
    longitude = HiddenField()
    accuracy = HiddenField()


class PhotoForm(FlaskForm):
    photo = FileField(_l("Add a photo"), description=_l("Take one with the camera, or choose one."))


class ReportForm(FlaskForm):
    """The report card: the service's checklist (item_<id> checkboxes, added per visit), notes and a mood."""

    mood = RadioField(_l("Mood"), choices=[("", _l("Not noted"))] + [(k, v) for k, v in MOODS.items()],
                      default="", validators=[Optional()])
    notes = TextAreaField(_l("Notes for the client"), validators=[Length(max=REPORT_NOTES_MAX)],
                          description=_l("How the visit went, anything the client should know."))
    reason = TextAreaField(_l("What changes, and why"), validators=[Optional(), Length(max=2000)],
                           description=_l("Kept with the correction; the client reads it."))

    lines: list[tuple[int, str]] = []

    def ticked(self) -> set[int]:
        return {key for key, name in self.lines if self[name].data}


def report_form(lines: list[tuple[int, str, bool, bool]], **kwargs) -> ReportForm:
    """A ReportForm with a checkbox per line of the card: (key, label, required, ticked before), in order."""

    class CardForm(ReportForm):
        pass

    names = []
    for key, label, required, ticked in lines:
        name = f"item_{key}"
        setattr(CardForm, name, BooleanField(label, default=ticked,
                                             description=_l("Required") if required else None))
        names.append((key, name))
    form = CardForm(**kwargs)
    form.lines = names
    return form


class TimesForm(FlaskForm):
    """A manager's correction of the check-in and check-out times, in the business's time zone."""

    checked_in_at = DateTimeLocalField(_l("Checked in"), validators=[
        InputRequired(message=_l("Enter the check-in time."))], format="%Y-%m-%dT%H:%M")
    checked_out_at = DateTimeLocalField(_l("Checked out"), validators=[Optional()], format="%Y-%m-%dT%H:%M",
                                        description=_l("Leave empty while the visit is under way."))
    reason = TextAreaField(_l("Why the times change"), validators=[
        InputRequired(message=_l("Say why the times change (kept beside the original).")), Length(max=2000)])

    def validate_checked_in_at(self, field) -> None:
        _in_calendar(field)

    def validate_checked_out_at(self, field) -> None:
        _in_calendar(field)

    def utc(self, field) -> datetime | None:
        """A local wall-clock time typed in the form, as an aware UTC moment."""
        if field.data is None:
            return None
        return field.data.replace(tzinfo=local_zone()).astimezone(timezone.utc)


def _in_calendar(field) -> None:
    """A year no calendar of ours shows (9999 would overflow on its way to UTC) is refused beside the field."""
    if field.data is not None and not 1900 < field.data.year < 3000:
        raise ValidationError(_("Enter a time between the years 1901 and 2999."))


class MissedForm(FlaskForm):
    reason = TextAreaField(_l("What happened?"), validators=[
        InputRequired(message=_l("Say what happened.")), Length(max=2000)])
    no_show = BooleanField(_l("The client was not there / turned us away (no-show fee)"))
