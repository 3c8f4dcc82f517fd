"""Operations: /healthz for a monitor, request ids in the logs (text or JSON lines) and on the error page, and the
first run without the demo (the setup page, its token, the sign-in hint and the owner's checklist)."""
from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text

from access import public
from app import create_app
from extensions import db
from models import ClientLogin, Invitation, OutboxMessage, Role, SiteSettings, StaffUser, utcnow
from services import first_run
from services.health import HEADS
from tests.conftest import HX, PASSWORD, at_once, login_as, make_config, stamp_head

ID = re.compile(r"[0-9a-f]{16}")


def _queue(age_seconds: int = 0, sent: bool = False) -> OutboxMessage:
    created = utcnow() - timedelta(seconds=age_seconds)
    message = OutboxMessage(kind="test", recipients=["a@example.com"], subject="Hi", body_text="x", body_html="x",
                            created_at=created, next_attempt_at=created, sent_at=utcnow() if sent else None)
    db.session.add(message)
    db.session.commit()
    return message


def test_healthz_reports_a_healthy_install(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == {"status": "ok", "database": {"reachable": True}, "migrations": {"at_head": True},
                             "outbox": {"unsent": 0, "oldest_unsent_seconds": None}}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_healthz_counts_the_outbox_backlog(client):
    _queue(age_seconds=600)
    _queue(age_seconds=30)
    _queue(age_seconds=9000, sent=True)  # delivered: not backlog
    outbox = client.get("/healthz").json["outbox"]
    assert outbox["unsent"] == 2 and 600 <= outbox["oldest_unsent_seconds"] < 660


def test_healthz_is_cheap_and_sets_no_cookie_for_a_signed_in_browser(app, client, owner, count_queries):
    login_as(client, owner)
    with count_queries() as counter:
        response = client.get("/healthz")
    assert response.status_code == 200 and counter.count == 2
    assert "Set-Cookie" not in response.headers
    assert "olive" not in response.get_data(as_text=True).lower()  # nothing about who asked


@pytest.fixture
def scratch_url(_schema, tmp_path):
    """A database of its own: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if not _schema.startswith("postgresql"):
        yield f"sqlite:///{tmp_path}/scratch.sqlite"
        return
    engine = create_engine(_schema)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS healthz_scratch CASCADE"))
        conn.execute(text("CREATE SCHEMA healthz_scratch"))
    yield _schema + "?options=-csearch_path%3Dhealthz_scratch"
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS healthz_scratch CASCADE"))
    engine.dispose()


def _scratch_app(url: str, tmp_path, revision: str | None):
    """An app on `url` with the models' tables and alembic_version at `revision` (None: no such table)."""
    scratch = create_app(make_config(url, tmp_path))
    with scratch.app_context():
        db.create_all()
        if revision is not None:
            stamp_head(db.engine, scratch)
            with db.engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        db.session.remove()
    return scratch


@pytest.mark.parametrize("revision", ["0016", None])
def test_healthz_is_503_when_migrations_are_behind(app, scratch_url, tmp_path, revision):
    scratch = _scratch_app(scratch_url, tmp_path, revision)
    try:
        with scratch.app_context():
            response = scratch.test_client().get("/healthz")
            db.session.remove()
    finally:
        with scratch.app_context():
            db.engine.dispose()
    assert response.status_code == 503
    assert response.json["status"] == "migrations not at head"
    assert response.json["database"] == {"reachable": True} and response.json["migrations"] == {"at_head": False}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_when_the_database_is_unreachable(app, _schema, tmp_path):
    if _schema.startswith("postgresql"):
        url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
    else:
        url = f"sqlite:///{tmp_path}/no-such-folder/x.sqlite"
    down = create_app(make_config(url, tmp_path))
    with down.app_context():
        response = down.test_client().get("/healthz")
        db.session.remove()
    assert response.status_code == 503
    assert response.json["status"] == "database unreachable" and response.json["database"] == {"reachable": False}


def test_the_head_is_read_once_at_startup(app):
    assert app.extensions[HEADS] and all(re.fullmatch(r"\w+", head) for head in app.extensions[HEADS])


def test_every_answer_carries_a_request_id(client):
    first, second = client.get("/staff/login"), client.get("/healthz")
    assert ID.fullmatch(first.headers["X-Request-ID"]) and ID.fullmatch(second.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize("given, kept", [
    ("edge-7f3a.92c1_XYZ", True),
    ("short", False),
    ("x" * 500, False),
    ("abc def ghi jkl", False),
    ("id-with;semicolon", False),
    ("ok-12345\r\nSet-Cookie: evil=1", False),
])
def test_a_trusted_proxys_request_id_is_kept_only_when_sane(app, client, given, kept):
    app.config["PROXY_HOPS"] = 1
    try:
        answer = client.get("/staff/login", headers={"X-Request-ID": given})
    except ValueError:  # the test client itself refuses a header with a line break: nothing reached the app
        assert "\n" in given
        return
    finally:
        app.config["PROXY_HOPS"] = 0
    assert (answer.headers["X-Request-ID"] == given) is kept
    if not kept:
        assert ID.fullmatch(answer.headers["X-Request-ID"])


def test_without_a_proxy_an_incoming_request_id_is_not_trusted(client):
    answer = client.get("/staff/login", headers={"X-Request-ID": "edge-7f3a.92c1_XYZ"})
    assert ID.fullmatch(answer.headers["X-Request-ID"])


def test_one_access_line_per_request_with_the_id_and_no_secrets(app, client, owner, caplog):
    login_as(client, owner)
    caplog.set_level(logging.INFO, logger=app.logger.name)
    answer = client.get(f"/clients/?q={owner.email}&page=1")
    lines = [r for r in caplog.records if getattr(r, "method", None)]
    assert len(lines) == 1
    [line] = lines
    assert line.request_id == answer.headers["X-Request-ID"]
    assert (line.method, line.path, line.status, line.user_kind, line.user_id) == ("GET", "/clients/", 200, "staff",
                                                                                  owner.id)
    assert isinstance(line.duration_ms, float) and line.levelno == logging.INFO
    assert owner.email not in caplog.text and "q=" not in caplog.text


def test_a_token_in_the_path_is_not_logged(app, client, caplog):
    caplog.set_level(logging.INFO, logger=app.logger.name)
    client.get("/newsletter/unsubscribe/secret-token-value-123")
    client.get("/clients/7")
    client.get("/static/pawtal.css")
    paths = [r.path for r in caplog.records if getattr(r, "method", None)]
    assert paths == ["/newsletter/unsubscribe/<token>", "/clients/7", "/static/pawtal.css"]
    assert "secret-token-value-123" not in caplog.text


def test_every_record_of_a_request_carries_its_id(app, client, caplog):
    @public
    def noisy():
        app.logger.warning("something to say")
        return "ok"

    app.add_url_rule("/test-only/noisy", "noisy", noisy)
    answer = client.get("/test-only/noisy")
    [record] = [r for r in caplog.records if r.getMessage() == "something to say"]
    assert record.request_id == answer.headers["X-Request-ID"]


def test_json_log_lines(tmp_path, _schema, owner):
    app = create_app(make_config(_schema, tmp_path, LOG_FORMAT="json"))
    stream = io.StringIO()
    with app.app_context():
        browser = app.test_client()
        login_as(browser, owner)
        answer = browser.get("/clients/?q=secret", errors_stream=stream)
        db.session.remove()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [access_line] = [line for line in lines if "status" in line]
    assert access_line["request_id"] == answer.headers["X-Request-ID"]
    assert {"time", "level", "logger", "message", "request_id", "method", "path", "status", "duration_ms",
            "user_kind", "user_id"} <= access_line.keys()
    assert (access_line["path"], access_line["status"], access_line["user_kind"], access_line["user_id"],
            access_line["level"]) == ("/clients/", 200, "staff", owner.id, "INFO")
    assert "secret" not in stream.getvalue()


def test_text_log_lines_are_the_default(tmp_path, _schema):
    app = create_app(make_config(_schema, tmp_path))
    stream = io.StringIO()
    with app.app_context():
        answer = app.test_client().get("/staff/login", errors_stream=stream)
        db.session.remove()
    [line] = stream.getvalue().splitlines()
    assert f"[{answer.headers['X-Request-ID']}]" in line and "GET /staff/login 200" in line and "anonymous" in line


def test_the_error_page_shows_the_request_id(app, client, caplog):
    @public
    def broken():
        raise RuntimeError("boom")

    app.add_url_rule("/test-only/broken", "broken", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    page = client.get("/test-only/broken")
    reference = page.headers["X-Request-ID"]
    assert page.status_code == 500
    assert f'Quote this reference: <code class="reference">{reference}</code>' in page.get_data(as_text=True)
    [logged] = [r for r in caplog.records if r.exc_info]
    assert logged.request_id == reference
    fragment = client.get("/test-only/broken", headers=HX)
    assert fragment.headers["X-Request-ID"] in fragment.get_data(as_text=True)


def test_a_404_page_has_no_reference(client):
    assert "Quote this reference" not in client.get("/no-such-page").get_data(as_text=True)


def _setup_form(token: str, **changes) -> dict:
    form = {"token": token, "first_name": "Fern", "last_name": "Oak", "email": "fern@harbor.example",
            "password": PASSWORD, "confirm": PASSWORD, "business_name": "Harbor Hounds",
            "business_email": "hello@harbor.example", "business_phone": "(617) 555-0142"}
    form.update(changes)
    return form


def test_the_setup_page_wants_the_token(app, client):
    token = first_run.setup_token()
    assert client.get("/setup").status_code == 404
    assert client.get("/setup?token=wrong").status_code == 404
    assert client.get(f"/setup?token={token[:-1]}").status_code == 404
    assert client.post("/setup", data=_setup_form("wrong")).status_code == 404
    page = client.get(f"/setup?token={token}")
    assert page.status_code == 200 and "Create my account" in page.get_data(as_text=True)
    assert db.session.scalar(select(StaffUser.id)) is None


def test_the_owner_sets_up_the_business_once(app, client):
    token = first_run.setup_token()
    made = client.post("/setup", data=_setup_form(token))
    assert made.status_code == 303 and made.headers["Location"] == "/clients/"
    owner = db.session.scalar(select(StaffUser))
    assert (owner.email, owner.role, owner.first_name) == ("fern@harbor.example", Role.OWNER, "Fern")
    settings = db.session.get(SiteSettings, 1)
    assert (settings.business_name, settings.business_email, settings.business_phone) == (
        "Harbor Hounds", "hello@harbor.example", "(617) 555-0142")
    home = client.get("/clients/")  # signed in as the new owner
    assert home.status_code == 200 and "Getting your business ready" in home.get_data(as_text=True)
    # The page is gone, and the token with it.
    assert client.get(f"/setup?token={token}").status_code == 404
    assert client.post("/setup", data=_setup_form(token, email="other@harbor.example")).status_code == 404
    assert db.session.scalar(select(db.func.count(StaffUser.id))) == 1


def test_a_refused_setup_says_why_beside_the_fields_and_keeps_nothing(app, client):
    token = first_run.setup_token()
    weak = client.post("/setup", data=_setup_form(token, password="short", confirm="short"))
    assert weak.status_code == 422 and "Use at least 10 characters" in weak.get_data(as_text=True)
    no_phone = client.post("/setup", data=_setup_form(token, business_phone=""))
    assert no_phone.status_code == 422 and "every email tells clients to call it" in no_phone.get_data(as_text=True)
    bad_emails = client.post("/setup", data=_setup_form(token, email="not-an-email", business_email="nope@x"))
    html = bad_emails.get_data(as_text=True)
    assert bad_emails.status_code == 422 and "“not-an-email” is not an email address" in html
    assert 'id="business_email-error"' in html  # the business's own check (services.settings), beside its field
    assert db.session.scalar(select(StaffUser.id)) is None and db.session.get(SiteSettings, 1) is None
    fragment = client.post("/setup", data=_setup_form(token, password="short", confirm="short"), headers=HX)
    assert fragment.status_code == 422 and "<html" not in fragment.get_data(as_text=True)


def _waiting_on_staff_table(app, n: int) -> None:
    """Until n setups wait on the lock on staff_user (PostgreSQL lists them in pg_locks; SQLite shows no waiters,
    so give them a second, well inside its 5-second busy_timeout)."""
    if db.engine.dialect.name != "postgresql":
        time.sleep(1)
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        waiting = db.session.scalar(text("select count(*) from pg_locks where not granted "
                                         "and relation = 'staff_user'::regclass"))
        db.session.rollback()
        if waiting >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{n} setups never waited on the lock")


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_two_setups_posted_at_once_make_one_owner_and_the_other_is_told_to_sign_in(app, headers):
    """Two browsers post the setup form at the same moment with different emails: the database decides, so exactly
    one owner exists, with that one's business details; the other gets a page saying to sign in, and nothing it
    sent is kept. Another connection holds the write lock until both requests are past the token check (so they
    truly overlap), then lets them go together."""
    token = first_run.setup_token()
    gate = db.engine.raw_connection()
    cursor = gate.cursor()
    if db.engine.dialect.name == "postgresql":
        cursor.execute("LOCK TABLE staff_user IN SHARE ROW EXCLUSIVE MODE")
    else:
        cursor.execute("BEGIN IMMEDIATE")

    def post(i: int):
        answer = app.test_client().post("/setup", data=_setup_form(
            token, first_name=f"Owner{i}", email=f"owner{i}@harbor.example", business_name=f"Harbor Hounds {i}",
            business_email=f"hello{i}@harbor.example"), headers=headers)
        return i, answer.status_code, answer.get_data(as_text=True)

    outcomes = []

    def race():
        with app.app_context():
            outcomes.extend(at_once(app, 2, post))

    racing = threading.Thread(target=race)
    try:
        racing.start()
        _waiting_on_staff_table(app, 2)
    finally:
        gate.commit()
        gate.close()
    racing.join(60)

    signed_in = 200 if headers else 303  # htmx is sent on with HX-Redirect
    assert sorted(status for _i, status, _html in outcomes) == sorted([signed_in, 409]), outcomes
    [(winner, _, _)] = [o for o in outcomes if o[1] == signed_in]
    [(loser, _, told)] = [o for o in outcomes if o[1] == 409]
    assert "The business is set up already" in told and 'href="/staff/login"' in told
    assert ("<html" in told) == (not headers)  # a page, or for htmx the fragment in place of the form
    assert 'name="password"' not in told  # not the form again
    db.session.expire_all()
    owners = db.session.scalars(select(StaffUser)).all()
    assert [(o.email, o.role) for o in owners] == [(f"owner{winner}@harbor.example", Role.OWNER)]
    settings = db.session.get(SiteSettings, 1)
    assert (settings.business_name, settings.business_email) == (f"Harbor Hounds {winner}",
                                                                 f"hello{winner}@harbor.example")
    assert db.session.scalar(select(StaffUser.id).where(StaffUser.email == f"owner{loser}@harbor.example")) is None


def test_the_setup_link_is_logged_at_startup_until_staff_exists(app, _schema, tmp_path, caplog):
    create_app(make_config(_schema, tmp_path))
    [said] = [r.getMessage() for r in caplog.records if "/setup?token=" in r.getMessage()]
    assert f"http://localhost/setup?token={first_run.setup_token()}" in said
    caplog.clear()
    StaffUser.query  # noqa: B018 - the owner comes next
    db.session.add(StaffUser(email="o@example.com", first_name="O", last_name="", role=Role.OWNER))
    db.session.commit()
    create_app(make_config(_schema, tmp_path))
    assert "/setup?token=" not in caplog.text


def test_the_token_is_this_installs(app, _schema, tmp_path):
    token = first_run.setup_token()
    assert token == first_run.setup_token() and len(token) == 40
    other = create_app(make_config(_schema, tmp_path, SECRET_KEY="another-secret"))
    with other.app_context():
        assert first_run.setup_token() != token  # the same instance folder, another key


def test_the_staff_sign_in_page_points_at_the_setup_link_while_nobody_can_sign_in(client, make):
    hint = "No account yet: see the setup link printed in the server's log."
    assert hint in client.get("/staff/login").get_data(as_text=True)
    make.staff(Role.SITTER)
    assert hint not in client.get("/staff/login").get_data(as_text=True)


def test_other_pages_work_as_before_while_nobody_exists(client):
    assert client.get("/login").status_code == 200
    assert client.get("/clients/").status_code == 302
    refused = client.post("/staff/login", data={"email": "x@example.com", "password": PASSWORD})
    assert refused.status_code == 401


def _ticks(html: str) -> list[str]:
    return re.findall(r'<li class="(done|todo)">', html.split('id="setup-checklist"')[1].split("</section>")[0])


def test_the_owners_checklist_ticks_each_step_from_the_data(app, client, owner, make, password_hash):
    login_as(client, owner)
    page = client.get("/clients/").get_data(as_text=True)
    assert _ticks(page) == ["todo"] * 5
    assert "No clients match" not in page  # the checklist instead of an empty table
    for url in ("/resources/services/", "/settings/", "/staff/", "/imports/", "/invitations/", "/clients/new"):
        assert f'href="{url}"' in page
    make.service()
    assert _ticks(client.get("/clients/").get_data(as_text=True)) == ["done"] + ["todo"] * 4
    client.post("/settings/business", data={"name": "Harbor Hounds", "phone": "1", "email": "h@harbor.example"})
    make.staff(Role.SITTER)
    profile = make.client()
    page = client.get("/clients/").get_data(as_text=True)
    assert _ticks(page) == ["done"] * 4 + ["todo"]
    assert profile.last_name in page  # with clients the table is back, under the checklist
    db.session.add(ClientLogin(client=profile, email="c@example.com", password_hash=password_hash))
    db.session.commit()
    assert "setup-checklist" not in client.get("/clients/").get_data(as_text=True)  # every step done


def test_an_invitation_ticks_the_last_step(app, client, owner, make):
    login_as(client, owner)
    profile = make.client()
    db.session.add(Invitation(client_id=profile.id, code_hash="c" * 64, token_hash="t" * 64,
                              expires_at=utcnow() + timedelta(days=1)))
    db.session.commit()
    assert _ticks(client.get("/clients/").get_data(as_text=True))[-1] == "done"


def test_the_checklist_is_one_query(app, owner):
    from tests.conftest import QueryCounter
    from sqlalchemy import event

    counter = QueryCounter()
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        first_run.checklist()
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    assert counter.count == 1


def test_the_checklist_can_be_put_away(app, client, owner):
    login_as(client, owner)
    hidden = client.post("/setup/checklist/dismiss", headers=HX)
    assert hidden.status_code == 200 and hidden.get_data(as_text=True).strip() == ""
    assert "setup-checklist" not in client.get("/clients/").get_data(as_text=True)
    plain = app.test_client()
    login_as(plain, owner)
    assert plain.post("/setup/checklist/dismiss").status_code == 303


def test_only_the_owner_sees_the_checklist_and_never_in_a_search(app, client, owner, manager):
    login_as(client, manager)
    assert "setup-checklist" not in client.get("/clients/").get_data(as_text=True)
    assert client.post("/setup/checklist/dismiss").status_code == 403
    login_as(client, owner)
    rows = client.get("/clients/?q=x", headers={**HX, "HX-Target": "client-rows"}).get_data(as_text=True)
    assert "setup-checklist" not in rows
