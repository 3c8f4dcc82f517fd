"""Importing clients and pets from a spreadsheet: upload, then confirm the preview."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField
from wtforms.validators import InputRequired

KINDS = [("clients", "Clients"), ("pets", "Pets (matched to clients by email)")]


class UploadForm(FlaskForm):
    kind = SelectField("What the file holds", choices=KINDS)
    file = FileField("Spreadsheet (.csv or .xlsx)", validators=[InputRequired(message="Choose a file.")])


class ConfirmForm(FlaskForm):
    kind = HiddenField()
    token = HiddenField()
