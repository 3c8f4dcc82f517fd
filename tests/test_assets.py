"""What the browser downloads: compressed answers (brotli or gzip) and static files under content-hashed names kept
for a year, the plain names still served briefly; downloads and conditional requests unchanged by either."""
import gzip
import hashlib
import io
import os
import re
import threading
import zipfile

import brotli
import pytest
from flask import Response, url_for
from werkzeug.datastructures import FileStorage

import assets
from access import public
from app import create_app
from config import from_environment
from extensions import db
from services.pets import photo_path, store_photo
from tests.conftest import HX, login_as, make_config
from tests.test_pets import png_bytes

STATIC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")
BOTH = {"Accept-Encoding": "gzip, deflate, br"}
GZIP = {"Accept-Encoding": "gzip"}


def decoded(response) -> bytes:
    """The body as the browser reads it, whatever the Content-Encoding."""
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(response.data)
    if encoding == "gzip":
        return gzip.decompress(response.data)
    assert encoding is None, encoding
    return response.data


def unsigned(html: bytes) -> bytes:
    """A page without its CSRF token, which is signed with the second it was made in."""
    token = re.search(rb'"X-CSRFToken": "([^"]+)"', html)
    return html.replace(token[1], b"<token>") if token else html


def digest_of(path: str) -> str:
    with open(os.path.join(STATIC, path), "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:assets.DIGEST_LENGTH]


def static_url(app, path: str) -> str:
    with app.test_request_context():
        return url_for("static", filename=path)


def static_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_pages_are_compressed_as_the_browser_asks_and_read_back_the_same(as_manager):
    plain = as_manager.get("/clients/")
    assert plain.headers.get("Content-Encoding") is None
    for accept, encoding in [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("br;q=0.5, gzip", "gzip"),
                             ("identity", None), ("", None)]:
        response = as_manager.get("/clients/", headers={"Accept-Encoding": accept})
        assert response.status_code == 200
        assert response.headers.get("Content-Encoding") == encoding, accept
        assert unsigned(decoded(response)) == unsigned(plain.data)
        if encoding:
            assert len(response.data) < len(plain.data) / 2
            assert int(response.headers["Content-Length"]) == len(response.data)


def test_fragments_are_compressed_and_vary_on_both_htmx_and_encoding(as_manager, make):
    for n in range(12):
        make.client(last_name=f"Zed{n}")
    page = as_manager.get("/clients/?q=zed", headers=BOTH)
    fragment = as_manager.get("/clients/?q=zed", headers={**HX, "HX-Target": "client-rows", **BOTH})
    assert page.headers["Content-Encoding"] == fragment.headers["Content-Encoding"] == "br"
    assert b"<html" in decoded(page) and b"<html" not in decoded(fragment)
    for response in (page, fragment):
        vary = {value.strip() for value in response.headers["Vary"].split(",")}
        assert {"HX-Request", "Accept-Encoding"} <= vary, vary


@pytest.mark.parametrize("mimetype, compressed", [
    ("text/html", True), ("text/css", True), ("text/javascript", True), ("image/svg+xml", True),
    ("application/json", True), ("text/plain", True), ("text/csv", True), ("text/calendar", True),
    ("image/jpeg", False), ("image/png", False), ("application/pdf", False), ("application/zip", False),
])
def test_text_is_compressed_and_what_is_compressed_already_is_not(app, mimetype, compressed):
    body = b"".join(b"line %d of a repetitive body\n" % n for n in range(200))
    app.add_url_rule("/test/body", "test_body", public(lambda: Response(body, mimetype=mimetype)))
    response = app.test_client().get("/test/body", headers=BOTH)
    assert (response.headers.get("Content-Encoding") == "br") is compressed
    assert decoded(response) == body
    assert "Accept-Encoding" in response.headers["Vary"]


def test_tiny_bodies_go_as_they_are(app):
    app.add_url_rule("/test/tiny", "test_tiny", public(lambda: Response("<p>ok</p>" * 40, mimetype="text/html")))
    app.add_url_rule("/test/small", "test_small", public(lambda: Response("<p>ok</p>" * 60, mimetype="text/html")))
    browser = app.test_client()
    assert browser.get("/test/tiny", headers=BOTH).headers.get("Content-Encoding") is None  # 360 bytes
    assert browser.get("/test/small", headers=BOTH).headers.get("Content-Encoding") == "br"  # 540 bytes
    icon = browser.get(static_url(app, "paw.svg"), headers=BOTH)  # an SVG of 289 bytes
    assert icon.status_code == 200 and icon.headers.get("Content-Encoding") is None


def test_a_streamed_answer_is_compressed_as_it_streams(app):
    def lines():
        for n in range(2000):
            yield f"row {n},some text,{n * 7}\n"

    app.add_url_rule("/test/stream", "test_stream", public(lambda: Response(lines(), mimetype="text/csv")))
    expected = "".join(lines()).encode()
    browser = app.test_client()
    for accept, encoding in [("gzip, br", "br"), ("gzip", "gzip"), ("", None)]:
        response = browser.get("/test/stream", headers={"Accept-Encoding": accept})
        assert response.headers.get("Content-Encoding") == encoding and response.is_streamed
        assert decoded(response) == expected


def test_a_photo_and_the_client_data_zip_download_intact(app, make, me, portal, manager):
    pet = make.pet(me.client, name="Rex")
    pet.photo = store_photo(me.client, FileStorage(io.BytesIO(png_bytes()), "p.png"))
    db.session.commit()
    office = app.test_client()
    login_as(office, manager)
    photo = office.get(f"/pets/photos/{pet.photo.id}", headers=BOTH)
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.headers.get("Content-Encoding") is None
    with open(photo_path(pet.photo), "rb") as stored:
        assert photo.data == stored.read()
    download = portal.get("/portal/my-data", headers=BOTH)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers.get("Content-Encoding") is None
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    assert archive.testzip() is None and "profile.json" in archive.namelist()
    assert any(name.startswith("pet_photos/") for name in archive.namelist())


def test_pages_link_static_files_by_the_hash_of_their_bytes(client):
    html = client.get("/staff/login").get_data(as_text=True)
    urls = static_urls(html)
    for path in ("pawtal.css", "pawtal.js", "vendor/htmx-2.0.11.min.js", "paw-green.svg"):
        stem, extension = os.path.splitext(path)
        assert f"/static/{stem}.{digest_of(path)}{extension}" in urls, path
    assert all(re.search(r"\.[0-9a-f]{10}\.\w+$", url) for url in urls), urls


def test_a_hashed_static_file_is_kept_a_year_and_its_plain_name_briefly(app, client):
    with open(os.path.join(STATIC, "pawtal.css"), "rb") as handle:
        css = handle.read()
    hashed = client.get(static_url(app, "pawtal.css"), headers=BOTH)
    assert hashed.status_code == 200 and hashed.mimetype == "text/css"
    assert hashed.headers["Content-Encoding"] == "br" and decoded(hashed) == css
    assert len(hashed.data) < len(brotli.compress(css, quality=4))  # better than pages get, done once
    assert decoded(client.get(static_url(app, "pawtal.css"), headers=GZIP)) == css
    cache = hashed.cache_control
    assert cache.public and cache.max_age == 31536000 and cache.immutable and not cache.no_cache
    plain = client.get("/static/pawtal.css")
    assert plain.status_code == 200 and plain.data == css
    assert plain.cache_control.max_age == assets.PLAIN_MAX_AGE and not plain.cache_control.immutable
    assert plain.headers["ETag"] == f'"{digest_of("pawtal.css")}"'
    assert client.get("/static/pawtal.0123456789.css").status_code == 404  # a hash it never had
    assert client.get("/static/../config.py").status_code == 404


def test_conditional_requests_answer_304_with_compression(app, client):
    url = static_url(app, "vendor/htmx-2.0.11.min.js")
    first = client.get(url, headers=GZIP)
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    etag = first.headers["ETag"]
    assert etag == f'"{digest_of("vendor/htmx-2.0.11.min.js")}:gzip"'  # the gzip bytes are their own version
    again = client.get(url, headers={**GZIP, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    identity = client.get("/static/pawtal.css")  # fetched once without compression, then asked with gzip
    assert client.get("/static/pawtal.css", headers={**GZIP, "If-None-Match": identity.headers["ETag"]}).status_code \
        == 304
    other = client.get(url, headers={**GZIP, "If-None-Match": '"0000000000:gzip"'})  # another version
    assert other.status_code == 200 and decoded(other) == decoded(first)


def test_a_range_of_a_static_file_is_sent_as_stored(client):
    with open(os.path.join(STATIC, "pawtal.css"), "rb") as handle:
        css = handle.read()
    part = client.get("/static/pawtal.css", headers={**BOTH, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.headers.get("Content-Encoding") is None
    assert part.data == css[100:200]


def test_a_changed_file_gets_a_new_url_and_the_old_one_is_gone(app, tmp_path):
    folder = tmp_path / "static"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "site.css").write_text("body { color: black; }\n" * 40)

    def restart():
        """As a new start would: the folder read again."""
        app.static_folder = str(folder)
        app.extensions[assets.EXTENSION] = assets.read_manifest(str(folder))

    restart()
    before = static_url(app, "sub/site.css")
    expected = hashlib.sha256((folder / "sub" / "site.css").read_bytes()).hexdigest()[:assets.DIGEST_LENGTH]
    assert before == f"/static/sub/site.{expected}.css"
    browser = app.test_client()
    assert decoded(browser.get(before, headers=BOTH)) == (folder / "sub" / "site.css").read_bytes()

    (folder / "sub" / "site.css").write_text("body { color: navy; }\n" * 40)
    restart()
    after = static_url(app, "sub/site.css")
    assert after != before and after.startswith("/static/sub/site.")
    assert browser.get(before).status_code == 404
    assert b"navy" in decoded(browser.get(after, headers=BOTH))
    assert b"navy" in browser.get("/static/sub/site.css").data


def test_a_file_without_an_extension_and_one_with_dots_in_its_folder():
    assert assets.hashed_name("vendor/htmx-2.0.11.min.js", "abc") == "vendor/htmx-2.0.11.min.abc.js"
    assert assets.hashed_name("v1.2/LICENSE", "abc") == "v1.2/LICENSE.abc"


def test_the_page_policy_allows_every_static_file_it_links(client):
    response = client.get("/staff/login")
    policy = response.headers["Content-Security-Policy"]
    assert "style-src 'self'" in policy and "script-src 'self'" in policy and "img-src 'self'" in policy
    for url in static_urls(response.get_data(as_text=True)):
        assert url.startswith("/static/")  # the same origin: 'self'
        assert client.get(url).status_code == 200, url


def test_debug_mode_links_plain_names_that_are_asked_for_again(_schema, tmp_path):
    app = create_app(make_config(_schema, tmp_path, DEBUG=True))
    browser = app.test_client()
    assert "/static/pawtal.css" in static_urls(browser.get("/staff/login").get_data(as_text=True))
    assert browser.get("/static/pawtal.css").cache_control.max_age == 0


def test_compression_can_be_left_to_a_proxy(_schema, tmp_path, monkeypatch):
    monkeypatch.setenv("PAWTAL_COMPRESS", "0")
    assert from_environment(str(tmp_path))["COMPRESS_RESPONSES"] is False
    monkeypatch.delenv("PAWTAL_COMPRESS")
    assert from_environment(str(tmp_path))["COMPRESS_RESPONSES"] is True
    app = create_app(make_config(_schema, tmp_path, COMPRESS_RESPONSES=False))
    browser = app.test_client()
    page = browser.get("/staff/login", headers=BOTH)
    css = browser.get("/static/pawtal.css", headers=BOTH)
    for response in (page, css):
        assert response.status_code == 200 and response.headers.get("Content-Encoding") is None
        assert "Accept-Encoding" not in response.headers.get("Vary", "")
    assert re.fullmatch(r"/static/pawtal\.[0-9a-f]{10}\.css", static_url(app, "pawtal.css"))


def test_the_bench_measures_a_first_visit_and_a_returning_browser(app, make, owner):
    from werkzeug.serving import make_server

    from bench.run import load_pages, transfer_lines
    from tests.conftest import PASSWORD

    client = make.client(last_name="Quill")
    for n in range(30):
        make.client(last_name=f"Row{n}")
    signed = app.test_client().post("/staff/login", data={"email": owner.email, "password": PASSWORD})
    cookie = re.search(r"session=([^;]+)", signed.headers["Set-Cookie"])[1]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        pages = ["/clients/?sort=name", f"/clients/{client.id}"]
        first, second = load_pages(base, cookie, pages)
        plain_first, plain_second = load_pages(base, cookie, pages, accept="")
        lines = transfer_lines(base, cookie, *pages)
    finally:
        server.shutdown()
        thread.join(5)
    # The table, then its stylesheet, both scripts and the icon; the profile alone, its files held from the table.
    assert first.responses == plain_first.responses >= 5 and first.kept == 0
    assert second.responses == 1 and second.kept >= 4
    with open(os.path.join(STATIC, "pawtal.css"), "rb") as css, \
            open(os.path.join(STATIC, "vendor/htmx-2.0.11.min.js"), "rb") as htmx:
        assert plain_first.bodies > len(css.read()) + len(htmx.read())
    assert first.bodies < plain_first.bodies / 3 and second.bodies < plain_second.bodies / 2
    assert first.headers > 0 and second.total < first.total / 4
    assert "target ≤ 40 KB" in lines[0] and "target ≤ 10 KB" in lines[1] and "1 response(s)" in lines[1]
