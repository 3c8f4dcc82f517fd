"""Uploaded documents (PDF or image): checked, stored privately under random names, served by a guarded route."""
from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import select

from extensions import db
from models import ClientLogin, ClientProfile, Document, Pet, StaffUser
from services.clients import visible_client_ids
from services.uploads import drop_file_after_commit, keep_file, pdf_or_image, stored_path


def document_path(document: Document) -> str:
    return stored_path("documents", document.stored_name)


def store_document(client: ClientProfile, upload, title: str = "", pet: Pet | None = None,
                   for_form: bool = False, field: str = "document") -> Document:
    """Check and keep an uploaded PDF or image (images are re-encoded, dropping metadata)."""
    content, extension, body, name = pdf_or_image(upload, current_app.config["DOCUMENT_MAX_BYTES"], field)
    document = Document(
        client_id=client.id, pet_id=pet.id if pet else None, title=(title or "").strip()[:160],
        stored_name=secrets.token_hex(16) + extension, original_name=name,
        content_type=content, size=len(body), for_form=for_form,
    )
    keep_file(document_path(document), body)
    db.session.add(document)
    db.session.flush()
    return document


def load_document(document_id: int, viewer: StaffUser | ClientLogin) -> Document | None:
    """A document of a client the viewer may see; a document of a pet the viewer may not see is hidden too."""
    document = db.session.scalar(select(Document).where(Document.id == document_id,
                                                        Document.client_id.in_(visible_client_ids(viewer))))
    if document is None:
        return None
    if document.pet_id and not (viewer.is_staff and viewer.can_manage):
        if not db.session.scalar(select(Pet.active).where(Pet.id == document.pet_id)):
            return None
    return document


def pet_documents(pet: Pet) -> list[Document]:
    return list(db.session.scalars(select(Document).where(Document.pet_id == pet.id, Document.for_form.is_(False))
                                   .order_by(Document.created_at.desc())))


def delete_document(document: Document) -> None:
    drop_file_after_commit(document_path(document))
    db.session.delete(document)
