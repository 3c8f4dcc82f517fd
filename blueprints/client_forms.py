"""Client forms for staff: build forms (owners and managers) and read clients' answers."""
from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from access import manager_required, staff_required
from blueprints.clients import client_or_404
from blueprints.forms import show_errors
from extensions import db
from models import ClientForm, FormResponse
from rendering import done, render_page
from services import forms
from services.errors import DomainError

bp = Blueprint("client_forms", __name__, url_prefix="/client-forms")


class FieldEntry(Form):
    label = StringField("Question", validators=[Length(max=200)])
    type = SelectField("Type", choices=list(forms.FIELD_TYPES.items()), default="short_text")
    required = BooleanField("Required")
    choices = TextAreaField("Choices, one per line", validators=[Length(max=2000)],
                            description="For a Choice field.")


class BuilderForm(FlaskForm):
    title = StringField("Title", validators=[Length(max=160)])
    description = TextAreaField("Description", validators=[Length(max=5000)],
                                description="Shown to clients above the questions.")
    per_pet = RadioField("Filled in", choices=[("client", "Once per client"), ("pet", "Once for each pet")],
                         default="client")
    onboarding = BooleanField("Required while getting started",
                              description="Clients must fill it in before they may request visits.")
    active = BooleanField("Active", default=True, description="Inactive forms are hidden from clients.")
    fields = FieldList(FormField(FieldEntry), min_entries=1, max_entries=forms.MAX_FIELDS)


def form_or_404(form_id: int) -> ClientForm:
    item = db.session.get(ClientForm, form_id)
    if item is None:
        abort(404)
    return item


def build_builder(item: ClientForm | None) -> BuilderForm:
    builder = BuilderForm() if request.method == "POST" else BuilderForm(obj=item)
    if request.method == "GET":
        if item is not None:
            builder.per_pet.data = "pet" if item.per_pet else "client"
            while len(builder.fields.entries):
                builder.fields.pop_entry()
            for spec in forms.specs_of(item.current):
                builder.fields.append_entry({"label": spec.label, "type": spec.type, "required": spec.required,
                                             "choices": "\n".join(spec.choices)})
        builder.fields.append_entry()
    return builder


@bp.get("/")
@manager_required
def index():
    return render_page("client_forms/index.html", "client_forms/_list.html", items=forms.list_forms())


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def new():
    return _edit(None)


@bp.route("/<int:form_id>/edit", methods=["GET", "POST"])
@manager_required
def edit(form_id: int):
    return _edit(form_or_404(form_id))


def _edit(item: ClientForm | None):
    builder = build_builder(item)
    status = 200
    if request.method == "POST":
        if "add_field" in request.form:  # another empty question; nothing is saved yet
            builder.fields.append_entry()
        elif builder.validate_on_submit():
            specs = [forms.FieldSpec(e.data["label"] or "", e.data["type"], e.data["required"],
                                     tuple((e.data["choices"] or "").splitlines())) for e in builder.fields.entries]
            try:
                saved = forms.save_form(item, builder.title.data or "", builder.description.data or "",
                                        builder.per_pet.data == "pet", builder.onboarding.data, builder.active.data,
                                        specs)
            except DomainError as error:
                db.session.rollback()
                show_errors(builder, error)
                status = 422
            else:
                return done(f"Saved “{saved.title}” (version {saved.current.number}).", url_for("client_forms.index"),
                            "client_forms/_list.html", items=forms.list_forms())
        else:
            status = 422
    return render_page("client_forms/edit.html", "client_forms/_builder.html", status=status, builder=builder,
                       item=item, field_types=forms.FIELD_TYPES)


@bp.get("/responses/<int:response_id>")
@staff_required()
def response(response_id: int):
    """A client's answers, read against the form version they were given for."""
    item = db.session.get(FormResponse, response_id)
    if item is None:
        abort(404)
    client = client_or_404(item.client_id)  # sitters: assigned clients only
    return render_page("client_forms/response.html", "client_forms/_response.html", response=item, client=client,
                       rows=forms.answer_rows(item))
