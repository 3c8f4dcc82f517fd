"""Keys on a client's profile: who holds a key or knows the lockbox code, and the code itself."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from filters import gettext as _
from filters import lazy_gettext as _l
from forms.fields import coerce_optional_int


class KeyHolderForm(FlaskForm):
    """Add a key holder (or change what a holder has). Prefixed: its fields sit on the profile with others."""

    staff_id = SelectField(_l("Team member"), coerce=coerce_optional_int,
                           validators=[InputRequired(message=_l("Choose a team member."))])
    has_key = BooleanField(_l("Has a key"), default=True)
    knows_code = BooleanField(_l("Knows the lockbox code"))
    notes = StringField(_l("Notes"), validators=[Length(max=200)], description=_l("Which key, where it is kept."))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "key")
        super().__init__(*args, **kwargs)

    def offer(self, staff: list) -> None:
        # A required select's placeholder has an empty value, so the browser and the checker know it is no choice.
        self.staff_id.choices = [("", _("Choose a team member"))] + [(s.id, s.name) for s in staff]


class LockboxForm(FlaskForm):
    lockbox_code = StringField(_l("Lockbox code"), validators=[Length(max=40)],
                               description=_l("The assigned sitter sees it on the day of her visit only; "
                                              "every time it is shown is logged."))
