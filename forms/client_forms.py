"""Client forms: the builder staff use, and the answers a client gives to one version of a form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, FieldList, Form, FormField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from filters import gettext as _
from filters import lazy_gettext as _l
from models import FORM_FIELD_TYPES, MAX_FORM_FIELDS, ClientForm


class FieldEntry(Form):
    label = StringField(_l("Question"), validators=[Length(max=200)])
    type = SelectField(_l("Type"), choices=list(FORM_FIELD_TYPES.items()), default="short_text")
    required = BooleanField(_l("Required"))
    choices = TextAreaField(_l("Choices, one per line"), validators=[Length(max=2000)],
                            description=_l("For a Choice field."))


class BuilderForm(FlaskForm):
    title = StringField(_l("Title"), validators=[Length(max=160)])
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)],
                                description=_l("Shown to clients above the questions."))
    per_pet = RadioField(_l("Filled in"), choices=[("client", _l("Once per client")), ("pet", _l("Once for each pet"))],
                         default="client")
    onboarding = BooleanField(_l("Required while getting started"),
                              description=_l("Clients must fill it in before they may request visits."))
    active = BooleanField(_l("Active"), default=True, description=_l("Inactive forms are hidden from clients."))
    fields = FieldList(FormField(FieldEntry), min_entries=1, max_entries=MAX_FORM_FIELDS)

    def show_form(self, item: ClientForm | None) -> None:
        """On a first GET: the form's current questions, and an empty one to add."""
        if item is not None:
            self.per_pet.data = "pet" if item.per_pet else "client"
            while len(self.fields.entries):
                self.fields.pop_entry()
            for spec in (item.current.fields if item.current else []):
                self.fields.append_entry({"label": spec["label"], "type": spec["type"], "required": spec["required"],
                                          "choices": "\n".join(spec.get("choices") or ())})
        self.fields.append_entry()

    def questions(self) -> list[dict]:
        """The questions as typed: label, type, required and choices (one per line)."""
        return [{"label": e.data["label"] or "", "type": e.data["type"], "required": e.data["required"],
                 "choices": tuple((e.data["choices"] or "").splitlines())} for e in self.fields.entries]


def answer_form(version) -> FlaskForm:
    """A form for the questions of one form version; the forms service checks the answers."""
    attrs = {}
    for spec in version.fields:
        label, kind = spec["label"], spec["type"]
        if kind == "long_text":
            field = TextAreaField(label)
        elif kind == "yes_no":
            field = RadioField(label, choices=[("yes", _("Yes")), ("no", _("No"))], validate_choice=False)
        elif kind == "choice":
            field = RadioField(label, choices=[(c, c) for c in spec["choices"]], validate_choice=False)
        elif kind == "file":
            field = FileField(label, description=_("A PDF, or a JPEG, PNG or WebP image."))
        elif kind == "signature":
            field = StringField(label, description=_("Type your full name: it is your signature."))
        else:
            field = StringField(label)
        attrs[spec["key"]] = field
    form = type("AnswerForm", (FlaskForm,), attrs)()
    for spec in version.fields:
        form[spec["key"]].flags.required = spec["required"]
        form[spec["key"]].field_type = spec["type"]
    return form
