"""Inviting client profiles to the portal."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from filters import lazy_gettext as _l


class InviteForm(FlaskForm):
    message = TextAreaField(_l("Personal message (optional)"), validators=[Length(max=2000)],
                            description=_l("Added to the invitation email, above the link and code."))
