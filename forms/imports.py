"""Importing clients and pets from a spreadsheet: upload, then confirm the preview."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField
from wtforms.validators import InputRequired

KINDS = [("clients", _l("Clients")), ("pets", _l("Pets (matched to clients by email)"))]


class UploadForm(FlaskForm):
    kind = SelectField(_l("What the file holds"), choices=KINDS)
    file = FileField(_l("Spreadsheet (.csv or .xlsx)"), validators=[InputRequired(message=_l("Choose a file."))])


class ConfirmForm(FlaskForm):
    kind = HiddenField()
    token = HiddenField()
