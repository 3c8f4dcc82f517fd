"""The business's resources (owner and manager): services, vets, territories, policies."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import Blueprint, abort, render_template, request, url_for
from flask_wtf import FlaskForm

from access import manager_required
from extensions import db
from filters import gettext as _
from filters import lazy_gettext as _l
from forms.clients import vet_choices
from forms.resources import PolicyForm, ServiceForm, TerritoryForm, VetForm
from models import Policy, Service, Territory, Vet, parse_id
from rendering import done, perform, render_page, submit
from services import reports, resources

bp = Blueprint("resources", __name__, url_prefix="/resources")


@dataclass(frozen=True)
class Kind:
    """A kind of resource; its notices are whole sentences (flashed, so made plain strings where used)."""

    model: type
    form: type
    title: str
    singular: str
    save: Callable
    added: str
    saved: str
    deleted: str


KINDS = {
    "services": Kind(Service, ServiceForm, _l("Services"), _l("service"),
                     lambda obj, f: resources.save_service(obj, f.name.data, f.duration_minutes.data,
                                                           f.base_price.data, f.active.data),
                     _l("Added the service."), _l("Saved the service."), _l("Deleted the service.")),
    "vets": Kind(Vet, VetForm, _l("Vets"), _l("vet"),
                 lambda obj, f: resources.save_vet(obj, f.clinic.data, f.phone.data, f.address.data),
                 _l("Added the vet."), _l("Saved the vet."), _l("Deleted the vet.")),
    "territories": Kind(Territory, TerritoryForm, _l("Territories"), _l("territory"),
                        lambda obj, f: resources.save_territory(obj, f.name.data, f.zip_codes.data),
                        _l("Added the territory."), _l("Saved the territory."), _l("Deleted the territory.")),
    "policies": Kind(Policy, PolicyForm, _l("Policies"), _l("policy"),
                     lambda obj, f: resources.save_policy(obj, f.title.data, f.body.data,
                                                          f.required_at_registration.data),
                     _l("Added the policy."), _l("Saved the policy."), _l("Deleted the policy.")),
}


def kind_or_404(kind: str) -> Kind:
    if kind not in KINDS:
        abort(404)
    return KINDS[kind]


def _list_page(kind: str, form, status: int = 200, obj=None):
    spec = KINDS[kind]
    return render_page("resources/index.html", "resources/_form.html", status=status, kind=kind, spec=spec,
                       kinds=KINDS, items=resources.list_of(spec.model), form=form, obj=obj)


def _edit_page(kind: str, form, obj, status: int = 200):
    return render_page("resources/edit.html", "resources/_form.html", status=status, kind=kind, spec=KINDS[kind],
                       kinds=KINDS, form=form, obj=obj)


@bp.get("/<kind>/")
@manager_required
def index(kind: str):
    spec = kind_or_404(kind)
    return _list_page(kind, spec.form(formdata=None))


@bp.post("/<kind>/")
@manager_required
def create(kind: str):
    spec = kind_or_404(kind)
    form = spec.form()
    return submit(form, lambda: spec.save(None, form),
                  lambda _item: done(str(spec.added), url_for("resources.index", kind=kind)),
                  lambda status: _list_page(kind, form, status))


@bp.get("/<kind>/<int:item_id>/edit")
@manager_required
def edit(kind: str, item_id: int):
    spec = kind_or_404(kind)
    obj = db.get_or_404(spec.model, item_id)
    form = spec.form(obj=obj)
    form.show(obj)
    return _edit_page(kind, form, obj)


@bp.post("/<kind>/<int:item_id>")
@manager_required
def update(kind: str, item_id: int):
    spec = kind_or_404(kind)
    obj = db.get_or_404(spec.model, item_id)
    form = spec.form()
    return submit(form, lambda: spec.save(obj, form),
                  lambda _item: done(str(spec.saved), url_for("resources.index", kind=kind)),
                  lambda status: _edit_page(kind, form, obj, status))


@bp.post("/<kind>/<int:item_id>/delete")
@manager_required
def delete(kind: str, item_id: int):
    spec = kind_or_404(kind)
    back = url_for("resources.index", kind=kind)
    return perform(lambda: resources.delete_resource(db.get_or_404(spec.model, item_id)),
                   lambda _none: done(str(spec.deleted), back),
                   lambda error: done(error.message, back, category="error"))


def _vet_field(selected: int | None = None, **extra):
    return render_template("clients/_vet_field.html", vets=vet_choices(resources.list_of(Vet)), selected=selected,
                           errors=[], **extra)


@bp.get("/vets/inline")
@manager_required
def new_vet_inline():
    """The small "new vet" fields shown beside the vet select in a client form."""
    return render_template("resources/_vet_inline.html", form=VetForm(formdata=None, prefix="new_vet"))


@bp.post("/vets/inline")
@manager_required
def create_vet_inline():
    """Create a vet from the client form and answer with the vet select, the new vet chosen."""
    form = VetForm(prefix="new_vet")
    return submit(form, lambda: resources.save_vet(None, form.clinic.data, form.phone.data, form.address.data),
                  lambda vet: _vet_field(vet.id, notice=_("Added %(clinic)s.", clinic=vet.clinic)),
                  lambda status: (render_template("resources/_vet_inline.html", form=form), status))


@bp.get("/vets/field")
@manager_required
def vet_field():
    """The vet select of the client form, as it was before "New vet" was pressed."""
    return _vet_field()


CHECKLIST_BLANKS = 3
CHECKLIST_ROWS_MAX = 1000


def _checklist_context(service: Service, lines: list[tuple[int | None, str, bool]] | None = None,
                       errors: dict | None = None) -> dict:
    """The service's report checklist (or the lines just sent), then a few blank lines to add more."""
    if lines is None:
        lines = [(item.id, item.label, item.required) for item in service.checklist]
    return {"service": service, "rows": list(lines) + [(None, "", False)] * CHECKLIST_BLANKS, "errors": errors or {},
            "kind": "services", "spec": KINDS["services"], "kinds": KINDS}


@bp.get("/services/<int:item_id>/checklist")
@manager_required
def checklist(item_id: int):
    service = db.get_or_404(Service, item_id)
    return render_page("resources/checklist.html", "resources/_checklist.html", **_checklist_context(service))


@bp.post("/services/<int:item_id>/checklist")
@manager_required
def save_checklist(item_id: int):
    """Save the checklist sitters fill at this service's visits; removed lines stay in the reports that had them."""
    service = db.get_or_404(Service, item_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    # The page says how many rows it sent; without that number (or with more rows than a page could hold)
    # the request is not one of ours, and reading it as "no lines" would retire the whole checklist.
    rows = request.form.get("rows", "")
    if not (rows.isascii() and rows.isdigit() and int(rows) <= CHECKLIST_ROWS_MAX):  # "²" is a digit, not ASCII
        abort(400)
    lines = [(parse_id(request.form.get(f"id-{i}", "")), request.form.get(f"label-{i}", "")[:500],
              request.form.get(f"required-{i}") == "y") for i in range(int(rows))]
    return perform(lambda: reports.save_checklist(service, lines),
                   lambda _none: done(_("Checklist saved: sitters see it at the next %(service)s visit.",
                                        service=service.name),
                                      url_for("resources.checklist", item_id=service.id), "resources/_checklist.html",
                                      **_checklist_context(service)),
                   lambda error: render_page("resources/checklist.html", "resources/_checklist.html", status=422,
                                             **_checklist_context(service, lines, getattr(error, "errors", {}))))
