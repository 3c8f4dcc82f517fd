"""What the browser downloads, and how little of it: responses compressed (brotli or gzip, by Flask-Compress) unless
PAWTAL_COMPRESS=0 leaves that to a proxy, and static files under names that carry a hash of their content, read
once at startup, so a browser may keep them for a year and a changed file gets a new URL.

Templates keep calling url_for('static', filename='pawtal.css') and get /static/pawtal.<hash>.css.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass, field

from flask import Flask, current_app, send_from_directory
from flask_compress import Compress

EXTENSION = "pawtal.assets"
YEAR = 31_536_000
# A plain name (/static/pawtal.css) is for whatever still asks for it (a page cached before an upgrade): a few
# minutes, then the browser asks again (a 304 when unchanged, by the ETag).
PLAIN_MAX_AGE = 300
DIGEST_LENGTH = 10  # hex characters of SHA-256: enough that a changed file never keeps its name
# Text compresses; JPEG, PNG, PDF and zip already are, so they go as they are. Below COMPRESS_MIN_SIZE bytes
# (an icon, a small fragment) the encoding costs more than it saves.
COMPRESSED_TYPES = ["text/html", "text/css", "text/plain", "text/csv", "text/calendar", "text/javascript",
                    "application/javascript", "application/json", "application/xml", "text/xml", "image/svg+xml"]
COMPRESS_DEFAULTS = {
    "COMPRESS_REGISTER": False,  # our own hook calls it (see _compress)
    "COMPRESS_MIMETYPES": COMPRESSED_TYPES,
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    # Static files are streamed from disk: gzip too (Flask-Compress leaves it out for streams by default).
    "COMPRESS_ALGORITHM_STREAMING": ["br", "gzip"],
    "COMPRESS_MIN_SIZE": 500,
}

compress = Compress()


@dataclass(frozen=True)
class Asset:
    """A file of the static folder: its path there ("vendor/htmx-2.0.11.min.js"), the hash of its bytes, and the
    name it is linked under ("vendor/htmx-2.0.11.min.3f9a1c2e4b.js")."""

    path: str
    digest: str
    hashed: str


@dataclass
class Manifest:
    """The static folder as read at startup: by plain name and by hashed name."""

    by_path: dict[str, Asset] = field(default_factory=dict)
    by_hashed: dict[str, Asset] = field(default_factory=dict)
    hashed_urls: bool = True


def hashed_name(path: str, digest: str) -> str:
    """`path` with `digest` before its extension: pawtal.css -> pawtal.<digest>.css."""
    stem, extension = posixpath.splitext(path)
    return f"{stem}.{digest}{extension}"


def read_manifest(folder: str | None) -> Manifest:
    """Hash every file under `folder` (the static folder)."""
    manifest = Manifest()
    if not folder or not os.path.isdir(folder):
        return manifest
    for directory, _, files in os.walk(folder):
        for name in files:
            full = os.path.join(directory, name)
            path = os.path.relpath(full, folder).replace(os.sep, "/")
            with open(full, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()[:DIGEST_LENGTH]
            asset = Asset(path, digest, hashed_name(path, digest))
            manifest.by_path[path] = asset
            manifest.by_hashed[asset.hashed] = asset
    return manifest


def init_app(app: Flask) -> None:
    """Compress responses (when COMPRESS_RESPONSES), link static files by hashed name and serve both names.

    Call it before the app's other after_request hooks: hooks run last-registered first, so compression then
    comes after every header is set and after the transaction's commit.
    """
    if app.config["COMPRESS_RESPONSES"]:
        for key, value in COMPRESS_DEFAULTS.items():
            app.config.setdefault(key, value)
        compress.init_app(app)
        app.after_request(_compress)
    # With `flask --debug run` a stylesheet edited while the server runs must show on reload, so pages link the
    # plain names there (the hash was read at startup) and the browser asks again each time.
    manifest = read_manifest(app.static_folder)
    manifest.hashed_urls = not app.debug
    app.extensions[EXTENSION] = manifest
    app.url_defaults(_hashed_url)
    app.view_functions["static"] = serve_static


def _compress(response):
    """Flask-Compress, except for a part of a file (a Range request): its bytes are counted in the plain file."""
    if response.status_code == 206:
        return response
    return compress.after_request(response)


def _hashed_url(endpoint: str, values: dict) -> None:
    """url_for('static', filename=...) links a file of the manifest by its hashed name."""
    if endpoint != "static":
        return
    manifest: Manifest = current_app.extensions[EXTENSION]
    asset = manifest.by_path.get(values.get("filename", ""))
    if asset is not None and manifest.hashed_urls:
        values["filename"] = asset.hashed


def serve_static(filename: str):
    """/static/<filename>: a hashed name is kept for a year and never asked for again; a plain name briefly."""
    manifest: Manifest = current_app.extensions[EXTENSION]
    asset = manifest.by_hashed.get(filename)
    if asset is not None:
        response = send_from_directory(current_app.static_folder, asset.path, etag=asset.digest, max_age=YEAR)
        response.cache_control.immutable = True
        return response
    asset = manifest.by_path.get(filename)
    max_age = 0 if current_app.debug else PLAIN_MAX_AGE
    return send_from_directory(current_app.static_folder, filename, etag=asset.digest if asset else True,
                               max_age=max_age)
