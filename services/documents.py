"""Uploaded documents (PDF or image): checked, stored privately under random names, served by a guarded route."""
from __future__ import annotations

import io
import os
import secrets

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select

from extensions import db
from models import ClientProfile, Document, Pet
from services.errors import DomainError

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
DOCUMENT_SIDE = 3000


def human_size(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


def document_path(document: Document) -> str:
    return os.path.join(current_app.config["UPLOAD_FOLDER"], "documents", document.stored_name)


def store_document(client: ClientProfile, upload, title: str = "", pet: Pet | None = None,
                   for_form: bool = False, field: str = "document") -> Document:
    """Check and keep an uploaded PDF or image (images are re-encoded, dropping metadata)."""
    limit = current_app.config["DOCUMENT_MAX_BYTES"]
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise DomainError(f"The file is larger than {human_size(limit)}.", field)
    if not data:
        raise DomainError("The file is empty.", field)
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-2048:]:
            raise DomainError("This PDF looks incomplete or damaged.", field)
        content, extension, body = "application/pdf", ".pdf", data
    else:
        content, extension, body = _reencoded_image(data, field)
    document = Document(
        client_id=client.id, pet_id=pet.id if pet else None, title=(title or "").strip()[:160],
        stored_name=secrets.token_hex(16) + extension, original_name=os.path.basename(upload.filename or "")[:200],
        content_type=content, size=len(body), for_form=for_form,
    )
    os.makedirs(os.path.dirname(document_path(document)), exist_ok=True)
    with open(document_path(document), "wb") as out:
        out.write(body)
    db.session.add(document)
    db.session.flush()
    return document


def _reencoded_image(data: bytes, field: str) -> tuple[str, str, bytes]:
    max_pixels = current_app.config["PHOTO_MAX_PIXELS"]
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in IMAGE_TYPES:
                raise DomainError("Upload a PDF, or a JPEG, PNG or WebP image.", field)
            if probe.width * probe.height > max_pixels:
                raise DomainError("The image has too many pixels.", field)
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail((DOCUMENT_SIDE, DOCUMENT_SIDE))
    except Image.DecompressionBombError:
        raise DomainError("The image has too many pixels.", field) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise DomainError("Upload a PDF, or a JPEG, PNG or WebP image.", field) from None
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, optimize=True)
    return "image/jpeg", ".jpg", out.getvalue()


def pet_documents(pet: Pet) -> list[Document]:
    return list(db.session.scalars(select(Document).where(Document.pet_id == pet.id, Document.for_form.is_(False))
                                   .order_by(Document.created_at.desc())))


def delete_document(document: Document) -> None:
    try:
        os.remove(document_path(document))
    except FileNotFoundError:
        pass
    db.session.delete(document)
    db.session.commit()
