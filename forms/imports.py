"""Importing clients and pets from a spreadsheet: upload the file, map its columns, confirm the preview."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, SelectField
from wtforms.validators import InputRequired

from filters import lazy_gettext as _l

ON_MATCH = [("skip", _l("Leave them as they are: their rows are not imported")),
            ("update", _l("Update them: the file's values replace theirs, and new pets are added"))]


class UploadForm(FlaskForm):
    file = FileField(_l("Spreadsheet (.csv or .xlsx)"), validators=[InputRequired(message=_l("Choose a file."))])


class MappingForm(FlaskForm):
    """Where each column goes (one select per column, added by `mapping_form`) and what to do with matches."""

    sheet = HiddenField()
    on_match = RadioField(_l("Clients already on file (same email, or same name and phone)"), choices=ON_MATCH,
                          default="skip")

    def column_fields(self):
        return [f for name, f in self._fields.items() if name.startswith("col_")]


def mapping_form(headers: list[str], choices: list, guesses: list[str], **kwargs) -> MappingForm:
    """A mapping form for a file with these column headers; each select starts at its guessed field."""
    form_class = type("FileMappingForm", (MappingForm,), {})
    for i, header in enumerate(headers):
        label = header or _l("Column %(number)d (no name)", number=i + 1)
        setattr(form_class, f"col_{i}", SelectField(label, choices=choices, default=guesses[i]))
    return form_class(**kwargs)
