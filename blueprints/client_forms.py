"""Client forms for staff: build forms (owners and managers) and read clients' answers."""
from __future__ import annotations

from flask import Blueprint, request, url_for

from access import client_or_404, manager_required, or_404, response_or_404, staff_required
from extensions import db
from filters import gettext as _
from forms.client_forms import BuilderForm
from models import FORM_FIELD_TYPES, ClientForm
from rendering import done, render_page, submit
from services import forms

bp = Blueprint("client_forms", __name__, url_prefix="/client-forms")


def build_builder(item: ClientForm | None) -> BuilderForm:
    builder = BuilderForm() if request.method == "POST" else BuilderForm(obj=item)
    if request.method == "GET":
        builder.show_form(item)
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
    return _edit(or_404(db.session.get(ClientForm, form_id)))


def _edit(item: ClientForm | None):
    builder = build_builder(item)

    def page(status: int):
        return render_page("client_forms/edit.html", "client_forms/_builder.html", status=status, builder=builder,
                           item=item, field_types=FORM_FIELD_TYPES)

    if "add_field" in request.form:  # another empty question; nothing is saved yet
        builder.fields.append_entry()
        return page(200)

    def save():
        specs = [forms.FieldSpec(q["label"], q["type"], q["required"], q["choices"]) for q in builder.questions()]
        return forms.save_form(item, builder.title.data or "", builder.description.data or "",
                               builder.per_pet.data == "pet", builder.onboarding.data, builder.active.data, specs)

    return submit(builder, save,
                  lambda saved: done(_("Saved “%(title)s” (version %(version)d).", title=saved.title,
                                       version=saved.current.number),
                                     url_for("client_forms.index"), "client_forms/_list.html",
                                     items=forms.list_forms()), page)


@bp.get("/responses/<int:response_id>")
@staff_required()
def response(response_id: int):
    """A client's answers, read against the form version they were given for."""
    item = response_or_404(response_id)
    client = client_or_404(item.client_id)
    return render_page("client_forms/response.html", "client_forms/_response.html", response=item, client=client,
                       rows=forms.answer_rows(item))
