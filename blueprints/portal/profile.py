"""My Info and My Pets: the client's own profile and pets (and their photos)."""
from __future__ import annotations

from flask import request, url_for

from access import client_required, feature_required, my_client, photo_or_404
from blueprints.pets import PET_ERRORS, save_pet, send_photo
from blueprints.portal.base import (
    bp, build_client_pet_form, build_info_form, invalid, my_pet_or_404, portal_context, saved,
)
from filters import gettext as _
from forms.pets import DocumentForm
from rendering import render_page, submit
from services import clients


@bp.route("/info", methods=["GET", "POST"])
@client_required
@feature_required("profile")
def info():
    client = my_client()
    form = build_info_form(client)
    return submit(form, lambda: clients.save_client(client, form.values(), staff_fields=False),
                  lambda _client: saved(_("Your details are saved."), url_for("portal.info"), "portal/_info.html",
                                        info_form=build_info_form(client, fresh=True)),
                  lambda status: invalid("portal/info.html", "portal/_info.html", status, info_form=form))


@bp.get("/pets")
@client_required
@feature_required("pets")
def pets():
    return render_page("portal/pets.html", "portal/_pets.html", **portal_context(my_client()))


@bp.route("/pets/new", methods=["GET", "POST"])
@client_required
@feature_required("pets")
def new_pet():
    client = my_client()
    form = build_client_pet_form(client)
    if request.method == "GET":
        return render_page("portal/pet_form.html", "portal/_pet_form.html", pet=None,
                           **portal_context(client, pet_form=form))
    return submit(form, lambda: save_pet(form, client, None),
                  lambda pet: saved(_("Added %(name)s.", name=pet.name), url_for("portal.pets"), "portal/_pets.html"),
                  lambda status: invalid("portal/pet_form.html", "portal/_pet_form.html", status, pet_form=form,
                                         pet=None), PET_ERRORS)


@bp.route("/pets/<int:pet_id>/edit", methods=["GET", "POST"])
@client_required
@feature_required("pets")
def edit_pet(pet_id: int):
    client = my_client()
    pet = my_pet_or_404(pet_id)
    form = build_client_pet_form(client, pet)
    if request.method == "GET":
        return render_page("portal/pet_form.html", "portal/_pet_form.html", pet=pet, document_form=DocumentForm(),
                           **portal_context(client, pet_form=form))
    return submit(form, lambda: save_pet(form, client, pet),
                  lambda saved_pet: saved(_("Saved %(name)s.", name=saved_pet.name), url_for("portal.pets"),
                                          "portal/_pets.html"),
                  lambda status: invalid("portal/pet_form.html", "portal/_pet_form.html", status, pet_form=form,
                                         pet=pet, document_form=DocumentForm()), PET_ERRORS)


@bp.get("/photos/<int:photo_id>")
@client_required
def photo(photo_id: int):
    """A photo of one of the client's own pets; never another client's."""
    return send_photo(photo_or_404(photo_id))
