"""What the browser downloads, and how little of it: responses compressed (brotli or gzip, by Flask-Compress) unless
PAWTAL_COMPRESS=0 leaves that to a proxy, and static files under names that carry a hash of their content, read
once at startup, so a browser may keep them for a year and a changed file gets a new URL.

Templates keep calling url_for('static', filename='pawtal.css') and get /static/pawtal.<hash>.css.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import mimetypes
import os
import posixpath
from dataclasses import dataclass, field

import brotli
from flask import Flask, current_app, request, send_from_directory
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
    # A streamed answer (a file not in the static folder's manifest) may be gzip too; Flask-Compress's default
    # for streams leaves it out.
    "COMPRESS_ALGORITHM_STREAMING": ["br", "gzip"],
    "COMPRESS_MIN_SIZE": 500,
}

compress = Compress()


@dataclass(frozen=True)
class Asset:
    """A file of the static folder: its path there ("vendor/htmx-2.0.11.min.js"), the hash of its bytes, the name
    it is linked under ("vendor/htmx-2.0.11.min.3f9a1c2e4b.js"), its size and its type."""

    path: str
    digest: str
    hashed: str
    size: int
    mimetype: str | None


@dataclass
class Manifest:
    """The static folder as read at startup: by plain name and by hashed name."""

    by_path: dict[str, Asset] = field(default_factory=dict)
    by_hashed: dict[str, Asset] = field(default_factory=dict)


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
                data = handle.read()
            digest = hashlib.sha256(data).hexdigest()[:DIGEST_LENGTH]
            asset = Asset(path, digest, hashed_name(path, digest), len(data), mimetypes.guess_type(path)[0])
            manifest.by_path[path] = asset
            manifest.by_hashed[asset.hashed] = asset
    return manifest


def init_app(app: Flask) -> None:
    """Compress responses (when COMPRESS_RESPONSES), link static files by hashed name and serve both names.

    Call it early (create_app does, right after logs): after_request hooks run last-registered first, so
    compression then comes after every later hook has set its headers and the transaction has committed, and
    the access line's duration includes it.
    """
    if app.config["COMPRESS_RESPONSES"]:
        for key, value in COMPRESS_DEFAULTS.items():
            app.config.setdefault(key, value)
        compress.init_app(app)
        app.after_request(_compress)
    app.extensions[EXTENSION] = read_manifest(app.static_folder)
    app.url_defaults(_hashed_url)
    app.view_functions["static"] = serve_static


def _compress(response):
    """Flask-Compress, except for a part of a file (a Range request): its bytes are counted in the plain file."""
    if response.status_code == 206:
        return response
    return compress.after_request(response)


def _hashed_url(endpoint: str, values: dict) -> None:
    """url_for('static', filename=...) links a file of the manifest by its hashed name.

    Not under `flask --debug run`: a stylesheet edited while that server runs must show on reload, and the hashes
    were read at startup, so pages link the plain names there and the browser asks again each time.
    """
    if endpoint != "static" or current_app.debug:
        return
    asset = current_app.extensions[EXTENSION].by_path.get(values.get("filename", ""))
    if asset is not None:
        values["filename"] = asset.hashed


def serve_static(filename: str):
    """/static/<filename>: a hashed name is kept for a year and never asked for again; a plain name briefly.

    Text is sent compressed as well as brotli (or gzip) can, once per process and file: Flask-Compress would
    compress it again on each request, at the quicker level it uses for pages.
    """
    folder = current_app.static_folder
    if current_app.debug:  # files may change under the running server: Flask's own way, asked for each time
        return send_from_directory(folder, filename, max_age=0)
    manifest: Manifest = current_app.extensions[EXTENSION]
    asset = manifest.by_hashed.get(filename)
    hashed = asset is not None
    asset = asset or manifest.by_path.get(filename)
    max_age = YEAR if hashed else PLAIN_MAX_AGE
    encoding = _encoding_for(asset)
    if encoding and request.if_none_match.contains_weak(asset.digest):
        encoding = None  # the browser holds the file as it is, still current: a 304 tells it to keep that copy
    if encoding is None:
        response = send_from_directory(folder, asset.path if asset else filename,
                                       etag=asset.digest if asset else True, max_age=max_age)
    else:
        response = current_app.response_class(_encoded(os.path.join(folder, asset.path), asset.digest, encoding),
                                              mimetype=asset.mimetype)
        response.headers["Content-Encoding"] = encoding
        response.vary.add("Accept-Encoding")
        response.set_etag(f"{asset.digest}:{encoding}")  # as Flask-Compress tags what it compresses
        response.cache_control.public = True
        response.cache_control.max_age = max_age
        response.make_conditional(request)
    if hashed:
        response.cache_control.immutable = True
    return response


def _encoding_for(asset: Asset | None) -> str | None:
    """br or gzip, whichever the browser prefers, for a text file worth compressing; None to send it as it is
    (compression off, a small or already compressed file, a Range request, a browser that takes neither)."""
    config = current_app.config
    if (asset is None or not config["COMPRESS_RESPONSES"] or "Range" in request.headers
            or asset.mimetype not in config["COMPRESS_MIMETYPES"] or asset.size < config["COMPRESS_MIN_SIZE"]):
        return None
    return request.accept_encodings.best_match(["br", "gzip"])


@functools.lru_cache(maxsize=64)
def _encoded(path: str, digest: str, encoding: str) -> bytes:
    """The file at `path`, whose bytes hash to `digest` (so a changed file is compressed anew), at the best level."""
    with open(path, "rb") as handle:
        data = handle.read()
    if encoding == "br":
        return brotli.compress(data, quality=11)
    return gzip.compress(data, compresslevel=9, mtime=0)
