"""Pet profiles: the pet table, profiles, editing, and the photos and documents of a client's pets."""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from access import client_or_404, id_arg, document_or_404, manager_required, pet_or_404, photo_or_404, staff_required
from extensions import db
from filters import gettext as _
from forms.errors import apply_rules
from forms.pets import PetForm
from models import ClientProfile, Document, Pet
from rendering import conditional, done, perform, render_page, send_private_jpeg, send_upload, submit
from services import clients, documents
from services import pets as pet_service
from services.clients import visible_client_ids
from services.settings import form_field_rules

bp = Blueprint("pets", __name__, url_prefix="/pets")

PETS_PER_PAGE = 25
MAX_PAGE = 100_000  # beyond any real list; a larger page number would overflow the database's offset


def build_pet_form(client: ClientProfile, pet: Pet | None = None) -> PetForm:
    """The pet form (staff desk and client portal) with the client's photos and the site's field rules."""
    form = PetForm(obj=pet) if request.method == "GET" else PetForm()
    if request.method == "GET":
        form.show_pet(pet)
    form.offer_photos(pet_service.client_photos(client), client.pets, pet)
    apply_rules(form, form_field_rules("pet"))
    form.drop_unusable()
    return form


def save_pet(form: PetForm, client: ClientProfile, pet: Pet | None) -> Pet:
    """The one service call behind a pet form."""
    return pet_service.save_pet(pet, client, form.values(), form.vaccination_values(), form.upload(),
                                form.picked_photo())


PET_ERRORS = {"vaccinations": "vaccinations", "photo": "photo"}


@bp.get("/")
@staff_required()
@conditional
def index():
    q = request.args.get("q", "").strip()[:100]
    show_inactive = request.args.get("inactive") == "1" and current_user.can_manage
    stmt = select(Pet).join(Pet.client).where(Pet.client_id.in_(visible_client_ids(current_user)))
    if not show_inactive:
        stmt = stmt.where(Pet.active.is_(True))
    for term in q.split():
        like = f"%{term.lower()}%"
        stmt = stmt.where(or_(func.lower(Pet.name).like(like), func.lower(Pet.breed).like(like),
                              func.lower(Pet.species).like(like), func.lower(ClientProfile.last_name).like(like)))
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    pagination = db.paginate(stmt.options(joinedload(Pet.client)).order_by(Pet.name, Pet.id), page=page,
                             per_page=PETS_PER_PAGE, max_per_page=PETS_PER_PAGE, error_out=False)
    args = {k: v for k, v in {"q": q, "inactive": "1" if show_inactive else ""}.items() if v}
    return render_page(
        "pets/index.html", {"desk": "pets/_table_view.html", "pet-rows": "pets/_rows.html"},
        push_url=url_for("pets.index", **args, **({"page": pagination.page} if pagination.page > 1 else {})),
        rows=pagination.items, total=pagination.total, page=pagination.page, pages=max(1, pagination.pages), q=q,
        show_inactive=show_inactive, args=args,
    )


@bp.get("/<int:pet_id>")
@staff_required()
def show(pet_id: int):
    return render_page("pets/show.html", "pets/_profile.html", pet=pet_or_404(pet_id))


def _form_page(form: PetForm, client: ClientProfile, pet: Pet | None, status: int = 200):
    """The staff pet form; for a pet on file it says whether it can be deleted (no history) or not."""
    history = pet_service.history_of(pet) if pet is not None else 0
    return render_page("pets/edit.html", "pets/_form.html", status=status, form=form, client=client, pet=pet,
                       pet_history=history)


def _saved(message: Callable[[str], str]):
    """Answer a saved pet with `message(name)`."""
    def then(pet: Pet):
        return done(message(pet.name), url_for("pets.show", pet_id=pet.id), "pets/_profile.html",
                    pet=pet_or_404(pet.id))
    return then


@bp.get("/new")
@manager_required
def new():
    """A new pet: first its owner (a searchable picker), then the pet form for that client."""
    client_id = id_arg("client_id")
    if client_id is None:
        q = request.args.get("q", "").strip()[:100]
        matches = clients.search_clients(current_user, clients.ClientQuery(q=q), per_page=10).rows if q else []
        return render_page("pets/new.html", "pets/_owner.html", q=q, matches=matches)
    client = client_or_404(client_id)
    return _form_page(build_pet_form(client), client, None)


@bp.post("/")
@manager_required
def create():
    client = client_or_404(id_arg("client_id") or 0)
    form = build_pet_form(client)
    return submit(form, lambda: save_pet(form, client, None), _saved(lambda name: _("Added %(name)s.", name=name)),
                  lambda status: _form_page(form, client, None, status), PET_ERRORS)


@bp.get("/<int:pet_id>/edit")
@manager_required
def edit(pet_id: int):
    pet = pet_or_404(pet_id)
    return _form_page(build_pet_form(pet.client, pet), pet.client, pet)


@bp.post("/<int:pet_id>")
@manager_required
def update(pet_id: int):
    pet = pet_or_404(pet_id)
    form = build_pet_form(pet.client, pet)
    return submit(form, lambda: save_pet(form, pet.client, pet), _saved(lambda name: _("Saved %(name)s.", name=name)),
                  lambda status: _form_page(form, pet.client, pet, status), PET_ERRORS)


@bp.post("/<int:pet_id>/delete")
@manager_required
def delete(pet_id: int):
    pet = pet_or_404(pet_id)
    name, client_id = pet.name, pet.client_id

    def refused(error):
        kept = pet_or_404(pet_id)
        form = build_pet_form(kept.client, kept)
        form.form_errors.append(error.message)
        return _form_page(form, kept.client, kept, 409)

    return perform(lambda: pet_service.delete_pet(pet),
                   lambda _none: done(_("Deleted %(name)s.", name=name), url_for("clients.show", client_id=client_id)),
                   refused)


@bp.get("/photos/<int:photo_id>")
@staff_required()
def photo(photo_id: int):
    """A pet photo, only for staff who may see its client; never from a public path."""
    return send_photo(photo_or_404(photo_id))


def send_photo(item) -> object:
    """Send a stored pet photo: private to the browser, never cached by shared caches."""
    return send_private_jpeg(pet_service.photo_path(item))


@bp.get("/documents/<int:document_id>")
@staff_required()
def document(document_id: int):
    """A client's document (a pet's certificate or a form answer), for staff who may see that client."""
    return send_document(document_or_404(document_id))


def send_document(item: Document):
    """Send a stored document: named for download, never cached by shared caches, sandboxed if opened."""
    return send_upload(documents.document_path(item), item.content_type, item.original_name or f"document-{item.id}")
