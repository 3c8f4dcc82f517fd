"""My Forms and documents: the business's forms to fill in, the client's answers, and pet documents."""
from __future__ import annotations

from flask import abort, request, url_for
from flask_login import current_user

from access import client_required, id_arg, document_or_404, feature_required, my_client, response_or_404
from blueprints.pets import send_document
from blueprints.portal.base import (
    bp, build_client_pet_form, from_widget, my_pet_or_404, onboarding_widget, portal_context, saved,
)
from filters import gettext as _
from forms.client_forms import answer_form
from forms.pets import DocumentForm
from rendering import done, render_page, submit
from services import documents, forms
from services.errors import DomainError


@bp.get("/forms")
@client_required
@feature_required("forms")
def my_forms():
    client = my_client()
    return render_page("portal/forms.html", "portal/_forms.html", tasks=forms.tasks_for(client),
                       **portal_context(client))


def _task_or_404(form_id: int) -> forms.FormTask:
    """An active form for this client; for per-pet forms, about one of the client's own active pets."""
    pet_id = id_arg("pet")
    task = next((t for t in forms.tasks_for(my_client())
                 if t.form.id == form_id and (t.pet.id if t.pet else None) == pet_id), None)
    if task is None:
        abort(404)
    return task


@bp.route("/forms/<int:form_id>", methods=["GET", "POST"])
@client_required
@feature_required("forms")
def fill_form(form_id: int):
    client = my_client()
    task = _task_or_404(form_id)
    form = answer_form(task.form.current)

    def answer():
        values = {key: request.form.get(key, "") for key in form._fields if key != "csrf_token"}
        return forms.submit(task.form, client, task.pet, current_user, values, request.files)

    def again(status: int):
        if from_widget():
            return onboarding_widget(status, answer=(task, form))
        return render_page("portal/form.html", "portal/_form.html", status=status, task=task, form=form,
                           **portal_context(client))

    return submit(form, answer,
                  lambda _response: saved(_("Thank you: “%(form)s” is filled in.", form=task.name),
                                          url_for("portal.my_forms"), "portal/_forms.html",
                                          tasks=forms.tasks_for(client)), again)


@bp.get("/forms/answers/<int:response_id>")
@client_required
@feature_required("forms")
def form_answers(response_id: int):
    """The client's own answers, as given; another client's answers are 404."""
    item = response_or_404(response_id)
    return render_page("portal/answers.html", "portal/_answers.html", response=item, rows=forms.answer_rows(item),
                       **portal_context(my_client()))


def _store_document(client, pet, form: DocumentForm):
    upload = form.document.data
    if not upload or not upload.filename:
        raise DomainError(_("Choose a file to upload."), "document")
    return documents.store_document(client, upload, form.title.data or "", pet)


@bp.route("/pets/<int:pet_id>/documents", methods=["POST"])
@client_required
@feature_required("pets")
def add_document(pet_id: int):
    client = my_client()
    pet = my_pet_or_404(pet_id)
    form = DocumentForm()
    return submit(form, lambda: _store_document(client, pet, form),
                  lambda _document: done(_("Document added."), url_for("portal.edit_pet", pet_id=pet.id),
                                         "portal/_documents.html", pet=pet, document_form=DocumentForm(formdata=None)),
                  lambda status: render_page("portal/pet_form.html", {"documents": "portal/_documents.html"},
                                             status=status, pet=pet, document_form=form,
                                             **portal_context(client, pet_form=build_client_pet_form(client, pet))))


@bp.get("/documents/<int:document_id>")
@client_required
def document(document_id: int):
    """One of the client's own documents; a document of an inactive pet is hidden like the pet."""
    return send_document(document_or_404(document_id))
