"""Inviting client profiles to the portal."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length


class InviteForm(FlaskForm):
    message = TextAreaField("Personal message (optional)", validators=[Length(max=2000)],
                            description="Added to the invitation email, above the link and code.")
