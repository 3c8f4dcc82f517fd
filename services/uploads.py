"""The one way an uploaded file comes in: read within its size limit; an image checked and re-encoded.

Pet photos, documents and the business's logo all come through here. Images are opened by Pillow only after
their header says JPEG, PNG or WebP within the pixel limit (decompression bombs are refused), turned upright, and
re-encoded as a fresh JPEG (a logo as a fresh PNG), so no metadata (EXIF, GPS) and nothing but pixels is ever kept.
"""
from __future__ import annotations

import io
import os

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import event

from extensions import db
from filters import gettext as _
from services.errors import DomainError

# MPO is a JPEG with more images inside (a phone's Ultra HDR gain map, a portrait's depth map): its first image
# is the photo, which is all that is kept.
IMAGE_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}


def stored_path(folder: str, stored_name: str) -> str:
    """Where an upload lives: the private upload folder, never a path the web server serves."""
    return os.path.join(current_app.config["UPLOAD_FOLDER"], folder, stored_name)


def keep_file(path: str, data: bytes) -> None:
    """Write a new upload's file; should the transaction that records it roll back, the file goes too."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)
    _files()["written"].append(path)


def drop_file_after_commit(path: str) -> None:
    """Remove a file once the transaction that deletes its row has committed (not before: it may roll back)."""
    _files()["dropped"].append(path)


def _files() -> dict:
    """The files this session's transaction has written or will drop, followed to its commit or rollback."""
    session = db.session()
    files = session.info.get("pawtal_files")
    if files is None:
        files = session.info["pawtal_files"] = {"written": [], "dropped": []}
        event.listen(session, "after_commit", lambda s: _settle(s, "dropped"))
        event.listen(session, "after_rollback", lambda s: _settle(s, "written"))
    return files


def _settle(session, remove: str) -> None:
    files = session.info["pawtal_files"]
    for path in files[remove]:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    files["written"], files["dropped"] = [], []


def clean_filename(name: str | None, limit: int = 200) -> str:
    """The name a browser sent with an upload, fit to keep and to send back: the last part of any path (Windows'
    too), without control characters (PostgreSQL cannot store a NUL; a newline would break a header)."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable()).strip()[:limit]


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return _("%(amount)s MB", amount=f"{size / (1024 * 1024):.0f}")
    return _("%(amount)s KB", amount=f"{max(1, -(-size // 1024))}")  # a small file is "1 KB", not "0 KB"


def read_upload(upload, limit: int, field: str, noun: str = "file") -> bytes:
    """The upload's bytes, refused beside `field` when empty or over `limit` (only limit+1 bytes are read).

    `noun` is "file" or "photo", the word the messages use.
    """
    data = upload.read(limit + 1)
    photo = noun == "photo"
    if len(data) > limit:
        size = human_size(limit)
        raise DomainError(_("The photo is larger than %(size)s.", size=size) if photo
                          else _("The file is larger than %(size)s.", size=size), field)
    if not data:
        raise DomainError(_("The photo is empty.") if photo else _("The file is empty."), field)
    return data


DOCUMENT_SIDE = 3000


def pdf_or_image(upload, limit: int, field: str) -> tuple[str, str, bytes, str]:
    """An uploaded PDF (checked whole) or image (re-encoded as a JPEG): (content type, extension, bytes, name).

    What is kept is a PDF or a JPEG whatever was sent (a PNG, a WebP): its name says so, as its content type does.
    """
    data = read_upload(upload, limit, field)
    name = clean_filename(upload.filename)
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-2048:]:
            raise DomainError(_("This PDF looks incomplete or damaged."), field)
        content, extension, body = "application/pdf", ".pdf", data
    else:
        refused = _("Upload a PDF, or a JPEG, PNG or WebP image.")
        content, extension = "image/jpeg", ".jpg"
        body = jpeg_bytes(intake_image(data, field, DOCUMENT_SIDE, refused, refused), 88)
    return content, extension, body, os.path.splitext(name)[0][:196] + extension if name else ""


def intake_image(data: bytes, field: str, max_side: int, wrong_type: str, unreadable: str,
                 mode: str = "RGB") -> Image.Image:
    """An uploaded image checked and decoded: upright, in `mode` (RGB; RGBA keeps a logo's transparency), at most
    `max_side` pixels a side."""
    max_pixels = current_app.config["PHOTO_MAX_PIXELS"]
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            if probe.format not in IMAGE_FORMATS:
                raise DomainError(wrong_type, field)
            if probe.width * probe.height > max_pixels:
                raise DomainError(_("The image has too many pixels."), field)
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image).convert(mode)
            image.thumbnail((max_side, max_side))
    except Image.DecompressionBombError:
        raise DomainError(_("The image has too many pixels."), field) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise DomainError(unreadable, field) from None
    return image


def png_bytes(image: Image.Image) -> bytes:
    """The image as a new PNG file: its pixels copied into a fresh image first, because Pillow's PNG writer would
    otherwise write the decoded file's ICC profile and other chunks again from `image.info`."""
    pixels = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    pixels.save(out, "PNG", optimize=True)
    return out.getvalue()


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    """The image as a new JPEG file: pixels only, no metadata (no exif= is passed, and comment=b"" because Pillow
    would otherwise write the decoded file's comment again)."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True, comment=b"")
    return out.getvalue()
