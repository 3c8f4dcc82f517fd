"""When an htmx request fails, the page says so: an ended session sends the whole tab to sign in (and back),
and an error is worded where flashes go instead of nothing happening or an error page inside a table."""
from __future__ import annotations

import io

from tests.conftest import HX, login_as

ON_DESK = {**HX, "HX-Current-URL": "http://localhost/clients/?sort=name&q=smi"}


def test_an_ended_staff_session_sends_the_tab_to_sign_in_and_back(client):
    search = client.get("/clients/?q=smit", headers={**ON_DESK, "HX-Target": "client-rows"})
    assert search.status_code == 401 and search.data == b""
    assert search.headers["HX-Redirect"] == "/staff/login?next=/clients/?sort%3Dname%26q%3Dsmi"
    plain = client.get("/clients/?q=smit")
    assert plain.status_code == 302 and plain.headers["Location"].startswith("/staff/login?next=")


def test_an_ended_client_session_goes_to_the_client_sign_in(client):
    answer = client.get("/portal/calendar", headers={**HX, "HX-Current-URL": "http://localhost/portal/calendar"})
    assert answer.status_code == 401 and answer.headers["HX-Redirect"] == "/login?next=/portal/calendar"


def test_a_form_from_an_ended_session_asks_to_sign_in_not_for_a_token(app, make):
    """The session (and its CSRF secret) is gone, so the form's token no longer matches: sign in again."""
    client = make.client()
    browser = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        saved = browser.post(f"/clients/{client.id}", data={"first_name": "X", "csrf_token": "stale"},
                             headers={**HX, "HX-Current-URL": f"http://localhost/clients/{client.id}"})
        assert saved.status_code == 401 and saved.headers["HX-Redirect"] == f"/staff/login?next=/clients/{client.id}"
        plain = browser.post(f"/clients/{client.id}", data={"first_name": "X", "csrf_token": "stale"})
        assert plain.status_code == 302 and "/staff/login" in plain.headers["Location"]
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_a_signed_in_htmx_error_is_worded_where_flashes_go(app, as_manager):
    missing = as_manager.get("/clients/99999", headers={**HX, "HX-Target": "desk"})
    html = missing.get_data(as_text=True)
    assert missing.status_code == 404 and missing.headers["HX-Retarget"] == "#flashes"
    assert missing.headers["HX-Reswap"] == "outerHTML"
    assert '<div id="flashes"' in html and "Not found" in html and "<html" not in html
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    try:
        too_big = as_manager.post("/imports/", data={"file": (io.BytesIO(b"x" * (2 * 1024 * 1024)), "big.csv")},
                                  content_type="multipart/form-data", headers=HX)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 20 * 1024 * 1024
    assert too_big.status_code == 413 and "at most 1 MB at a time" in too_big.get_data(as_text=True)
    page = as_manager.get("/clients/99999")  # without htmx, the error page as before
    assert page.status_code == 404 and "<html" in page.get_data(as_text=True)


def test_a_csrf_failure_while_signed_in_says_reload(app, make, manager):
    browser = app.test_client()
    login_as(browser, manager)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = browser.post("/settings/", data={"csrf_token": "stale"}, headers=HX)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert refused.status_code == 400 and refused.headers["HX-Retarget"] == "#flashes"
    assert "Reload the page and try again" in refused.get_data(as_text=True)
