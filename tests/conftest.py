"""Fixtures: a fresh database per test (SQLite, or PostgreSQL with TEST_DATABASE_URL), factories, logins."""
from __future__ import annotations

import itertools
import threading
import os
import shutil

import pytest
from argon2 import PasswordHasher
from flask import g
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from sqlalchemy import URL, create_engine, event, make_url, text

from app import create_app
from extensions import babel, db
from models import ClientEmail, ClientProfile, ClientStatus, Pet, Role, Service, StaffUser
from services import accounts
from services.accounts import hash_password

# Passwords are hashed and checked by argon2 as in production, with its cheapest parameters: the library's defaults
# (64 MiB, three passes) cost about 0.1 s a sign-in, and the suite signs in through forms hundreds of times. As
# Django's test settings do with their fast hasher; nothing here tests the cost itself.
accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
accounts._DUMMY_HASH = accounts._hasher.hash("not-a-real-password")

HX = {"HX-Request": "true"}
# The site options a browser posts for visits under way, at their defaults (the form requires them).
VISIT_OPTIONS = {"location_mode": "asked", "short_visit_percent": "50", "late_grace_minutes": "15",
                 "travel_gap_minutes": "0", "key_notices": "y"}
PASSWORD = "correct-horse-42"
_counter = itertools.count(1)
BROWSER_PAGES = os.path.join(os.path.dirname(__file__), "browser", "artifacts", "html")


def pytest_configure(config):
    """Browser tests keep the pages they load for tests/check_html.py in a folder emptied once per run:
    here, by the only process or by pytest-xdist's controller, never by a worker while others write to it."""
    if not hasattr(config, "workerinput"):
        shutil.rmtree(BROWSER_PAGES, ignore_errors=True)


# The modules whose tests take seconds each, run first: pytest-xdist's workers then share out the short ones at the
# end, instead of one worker finishing a long test while the other waits.
LONG_FIRST = ("tests/test_loadtest.py", "tests/test_hostile.py", "tests/test_migrations.py", "tests/browser/")


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgresql_run` work on PostgreSQL whatever the suite runs on (the load test): they run once,
    in the suite's PostgreSQL run, and are left out (deselected, not skipped) of its SQLite run."""
    items.sort(key=lambda item: not item.nodeid.startswith(LONG_FIRST))  # stable: each module keeps its order
    if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        return
    left_out = [item for item in items if item.get_closest_marker("postgresql_run")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("postgresql_run")]


def _database_url(tmp_root) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_root}/pawtal-test.sqlite"


def _worker_database(url: str, worker: str) -> str:
    """With pytest-xdist each worker gets a PostgreSQL database of its own (test_gw0, ...), made once."""
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.scalar(text("select 1 from pg_database where datname = :name"), {"name": name}) is None:
                conn.execute(text(f'create database "{name}"'))
            _commit_without_waiting_for_the_disk(conn, name)
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _commit_without_waiting_for_the_disk(conn, name: str) -> None:
    """The test databases commit without waiting for PostgreSQL to flush its log to disk (synchronous_commit off,
    for these databases only, as PostgreSQL's docs suggest for data one can lose): the suite commits tens of
    thousands of times, and waiting for the disk each time was a tenth of the PostgreSQL run. Nothing is less
    durable within a run: a crash of the server, not of a test, is what it gives up."""
    conn.execute(text(f'alter database "{name}" set synchronous_commit = off'))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = _database_url(tmp_path_factory.mktemp("db"))
    if url.startswith("postgresql"):
        # In CI a missing PostgreSQL must fail loudly, never skip.
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
        except Exception as error:  # noqa: BLE001 - report any connection failure
            pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is not reachable: {error}", returncode=3)
        finally:
            engine.dispose()
        if os.environ.get("PYTEST_XDIST_WORKER"):
            url = _worker_database(url, os.environ["PYTEST_XDIST_WORKER"])
        else:
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as conn:
                    _commit_without_waiting_for_the_disk(conn, make_url(url).database)
            finally:
                engine.dispose()
    return url


@pytest.fixture(scope="session")
def password_hash():
    """One argon2 hash shared by factory accounts: hashing per user would slow the suite."""
    return hash_password(PASSWORD)


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.create_all()
        stamp_head(db.engine, app)
        db.session.remove()
        db.engine.dispose()
    return database_url


def stamp_head(engine, app) -> None:
    """Record the migrations' head in alembic_version, as `flask db upgrade` leaves a database (/healthz reads it)."""
    from services.health import HEADS

    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        for head in app.extensions[HEADS]:
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})


def make_config(database_url: str, tmp_path, **extra) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "MAIL_SUPPRESS_SEND": True,
        "BASE_URL": "http://localhost",
        "SERVER_NAME": None,
        "RATELIMIT_ENABLED": True,
        "OUTBOX_WORKER": False,
    }
    config.update(extra)
    return config


def _empty_tables(app) -> None:
    """Delete every row, children first, and start the ids again from 1.

    On PostgreSQL one round trip of DELETEs and one of setval: TRUNCATE of the 55 tables took about 20 times as
    long (it makes new files for each table), and the suite does this after every test."""
    with app.app_context():
        db.session.remove()
        tables = list(reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("; ".join(f'DELETE FROM "{t.name}"' for t in tables))
                sequences = conn.scalars(text("SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) "
                                              "FROM pg_sequences WHERE schemaname = current_schema()")).all()
                if sequences:
                    conn.execute(text("SELECT " + ", ".join(f"setval('{name}', 1, false)" for name in sequences)))
            else:
                for table in tables:
                    conn.execute(table.delete())


@pytest.fixture
def app_config(_schema, tmp_path):
    """Extra config for the `app` fixture; override in a test module to change it."""
    return {}


class IsolatedClient(FlaskClient):
    """A test client whose requests do not see what the previous request kept on `g`.

    The test's app context stays pushed (so tests can use db.session), and Flask reuses it
    for requests; what a request caches on `g` (Flask-Login's user, the portal's profile)
    would otherwise leak into the next request, as it never does in production.
    """

    def open(self, *args, **kwargs):
        kept = set(vars(g))
        g.pop("_login_user", None)
        try:
            return super().open(*args, **kwargs)
        finally:
            for name in set(vars(g)) - kept | {"_login_user"}:
                g.pop(name, None)


class SharedBytecodeCache(BytecodeCache):
    """Compiled templates kept for the whole test process. Each test makes an app, so a Jinja environment, of its
    own, which would compile every template it renders again (lexing, parsing, Python's compile): most of a short
    test's time. Jinja checks each entry against the template's source before using it."""

    def __init__(self):
        self.codes: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.codes:
            bucket.bytecode_from_string(self.codes[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.codes[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = SharedBytecodeCache()


class SharedEngines:
    """One SQLAlchemy engine for every app the `app` fixture makes in a test process, by URL and options.

    An engine keeps the SQL it has compiled, by statement; each test made an app, so an engine, of its own, which
    compiled again every statement the test ran (a sixth of a typical test's time, by profile), read the server's
    version and settings again and opened new connections. Flask-SQLAlchemy makes engines in `_make_engine`; apps
    made elsewhere (a test's own create_app, with settings of its own) get engines of their own as before. The pool's
    connections are kept from test to test, rolled back as each request or test gives them back; no test sets a
    session-level setting on them (the PostgreSQL page cost, set on connect, is part of the key)."""

    def __init__(self, make_engine):
        self.make_engine = make_engine
        self.engines: dict[str, object] = {}
        self.sharing = False

    def __call__(self, bind_key, options, app):
        if not self.sharing:
            return self.make_engine(bind_key, options, app)
        settings = {name: value.render_as_string(hide_password=False) if isinstance(value, URL) else repr(value)
                    for name, value in options.items()}
        key = repr((bind_key, sorted(settings.items()), app.config.get("PG_RANDOM_PAGE_COST")))
        if key not in self.engines:
            self.engines[key] = self.make_engine(bind_key, options, app)
        return self.engines[key]


db._make_engine = ENGINES = SharedEngines(db._make_engine)


@pytest.fixture
def app(_schema, tmp_path, app_config):
    # Flask-Babel keeps loaded catalogues in one Domain for the whole process, by locale: a test with French
    # catalogues of its own must not get the ones an earlier test's French app loaded.
    babel.__dict__.pop("domain_instance", None)  # a cached_property: the next app makes a Domain of its own
    ENGINES.sharing = True
    try:
        app = create_app(make_config(_schema, tmp_path, **app_config))
    finally:
        ENGINES.sharing = False
    app.test_client_class = IsolatedClient
    app.jinja_env.bytecode_cache = TEMPLATE_CODE
    ctx = app.app_context()
    ctx.push()
    yield app
    db.session.remove()
    ctx.pop()
    _empty_tables(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Factory:
    """Builds rows with unique emails; every account's password is PASSWORD."""

    def __init__(self, password_hash: str):
        self.password_hash = password_hash

    def staff(self, role: Role = Role.MANAGER, **kw) -> StaffUser:
        n = next(_counter)
        user = StaffUser(email=kw.pop("email", f"staff{n}@example.com"), first_name=kw.pop("first_name", f"Staff{n}"),
                         last_name=kw.pop("last_name", "Member"), role=role, password_hash=self.password_hash, **kw)
        db.session.add(user)
        db.session.commit()
        return user

    def client(self, **kw) -> ClientProfile:
        n = next(_counter)
        email = kw.pop("email", f"client{n}@example.com")
        profile = ClientProfile(first_name=kw.pop("first_name", f"First{n}"), last_name=kw.pop("last_name", f"Last{n}"),
                                status=kw.pop("status", ClientStatus.ACTIVE), **kw)
        if email:
            profile.emails = [ClientEmail(email=email, is_primary=True)]
        profile.pets = []
        profile.refresh_search_text()
        db.session.add(profile)
        db.session.commit()
        return profile

    def pet(self, client: ClientProfile, **kw) -> Pet:
        n = next(_counter)
        pet = Pet(client=client, name=kw.pop("name", f"Pet{n}"), species=kw.pop("species", "Dog"), **kw)
        db.session.add(pet)
        client.refresh_search_text()
        db.session.commit()
        return pet

    def service(self, **kw) -> Service:
        n = next(_counter)
        service = Service(name=kw.pop("name", f"Walk {n}"), duration_minutes=kw.pop("duration_minutes", 30),
                          base_price_cents=kw.pop("base_price_cents", 2500), active=True, **kw)
        db.session.add(service)
        db.session.commit()
        return service


@pytest.fixture
def make(app, password_hash):
    return Factory(password_hash)


def login_as(test_client, user) -> None:
    """Sign a user in on a test client without a request (the login form has its own tests)."""
    with test_client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


@pytest.fixture
def owner(make):
    return make.staff(Role.OWNER, first_name="Olive")


@pytest.fixture
def manager(make):
    return make.staff(Role.MANAGER, first_name="Marta")


@pytest.fixture
def sitter(make):
    return make.staff(Role.SITTER, first_name="Sami")


@pytest.fixture
def as_manager(client, manager):
    login_as(client, manager)
    return client


@pytest.fixture
def me(make, password_hash):
    """A client login (Nia Reyes) on its own profile."""
    from models import ClientLogin

    profile = make.client(first_name="Nia", last_name="Reyes", email="nia@example.com")
    login = ClientLogin(client=profile, email="nia@example.com", first_name="Nia", password_hash=password_hash)
    db.session.add(login)
    db.session.commit()
    return login


@pytest.fixture
def portal(app, me):
    """A test client signed in as `me`."""
    browser = app.test_client()
    login_as(browser, me)
    return browser


@pytest.fixture
def walk(make):
    """The service most tests book (modules that need another price or a checklist define their own)."""
    return make.service(name="Dog walk", base_price_cents=2500)


@pytest.fixture
def rex(me, make):
    """Nia's dog: with it, her onboarding is complete (nothing else is required by default)."""
    return make.pet(me.client, name="Rex")


@pytest.fixture
def as_owner(client, owner):
    login_as(client, owner)
    return client


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, *args):
        self.count += 1


@pytest.fixture
def count_queries(app):
    """A context manager counting SQL statements sent while it is open."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        counter = QueryCounter()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)

    return counting


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        import threading

        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        from email import message_from_bytes
        from email.policy import default

        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def text(self, message) -> str:
        return message.get_body(("plain",)).get_content()

    def html(self, message) -> str:
        return message.get_body(("html",)).get_content()

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]


@pytest.fixture(scope="session")
def smtp():
    """A real SMTP server on loopback for the whole run."""
    from aiosmtpd.controller import Controller

    controller = Controller(Inbox(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller
    controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_config(smtp) -> dict:
    """App config that sends mail to the loopback SMTP server (use it from an `app_config` fixture)."""
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_SUPPRESS_SEND": False}


@pytest.fixture
def inbox(smtp):
    smtp.handler.clear()
    return smtp.handler


@pytest.fixture(scope="session")
def localstripe():
    """localstripe (a fake Stripe API and Stripe.js) on a loopback port, for the whole run."""
    import subprocess
    import sys
    import socket
    import time

    port = _free_port()
    code = ("import aiohttp.web, localstripe.server as s; "
            f"aiohttp.web.run_app(s.app, host='127.0.0.1', port={port}, print=None)")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"localstripe did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


WEBHOOK_SECRET = "whsec_pawtal_tests"


def stripe_config(base: str) -> dict:
    """App config that talks to localstripe instead of Stripe."""
    return {"STRIPE_SECRET_KEY": "sk_test_pawtal", "STRIPE_PUBLISHABLE_KEY": "pk_test_pawtal",
            "STRIPE_API_BASE": base, "STRIPE_JS_URL": f"{base}/js.stripe.com/v3/",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


def signed_event(event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header, signed the way Stripe signs them."""
    import hashlib
    import hmac
    import json
    import time

    body = json.dumps(event).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={stamp},v1={digest}"


def at_once(app, n: int, work) -> list:
    """Run work(i) in n threads released together, each as a request would: its own session, committed after."""
    barrier = threading.Barrier(n)
    outcomes = []

    def run(i):
        with app.app_context():
            try:
                barrier.wait()
                outcome = work(i)
                db.session.commit()
                outcomes.append(outcome)
            except Exception as error:  # noqa: BLE001 - every outcome is asserted by the caller
                db.session.rollback()
                outcomes.append(type(error).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    db.session.expire_all()
    return outcomes
