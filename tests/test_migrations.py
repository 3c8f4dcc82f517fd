"""Upgrades keep every row: from every revision, and from every release that added a migration.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (each test in a schema of its own).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from html import escape
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from app import create_app
from extensions import db
from tests.conftest import TEMPLATE_CODE, IsolatedClient, make_config
from tests.migration_data import Filler, differences, snapshot

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
CHECKSUMS = MIGRATIONS / "checksums.sha256"


def chain() -> list[str]:
    """Every revision from the first to the head, read from migrations/versions."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return [script.revision for script in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))]


def test_landed_migrations_are_unchanged():
    """A migration that has landed is never edited: self-hosters' databases are at its old text."""
    recorded = dict(reversed(line.split("  ", 1)) for line in CHECKSUMS.read_text().splitlines() if line.strip())
    problems = []
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        name = f"versions/{path.name}"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if name not in recorded:
            problems.append(f"{name} has no recorded checksum: run `make migration-checksums` as it lands")
        elif recorded[name] != digest:
            problems.append(f"{name} was edited after it landed: add a new migration instead")
    assert not problems, "\n".join(problems)


@pytest.fixture
def database(_schema, tmp_path):
    """A URL for an empty database of the suite's kind, apart from the shared test schema."""
    if not _schema.startswith("postgresql"):
        yield f"sqlite:///{tmp_path}/upgrade.sqlite"
        return
    name = f"upgrade_{os.getpid()}"
    engine = sa.create_engine(_schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {name}"))
    yield f"{_schema}?options=-csearch_path%3D{name}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
    engine.dispose()


def migrate(url: str, tmp_path: Path, revision: str = "head", **extra) -> None:
    """Run `flask db upgrade` in-process against `url`, as a self-hoster would."""
    app = create_app(make_config(url, tmp_path, **extra))
    with app.app_context():
        upgrade(revision=revision)
        db.session.remove()
        db.engine.dispose()


def read_all(url: str) -> dict:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return snapshot(conn)
    finally:
        engine.dispose()


def dangling(url: str) -> list:
    """Rows pointing at missing parents (SQLite only; PostgreSQL enforces this itself)."""
    if not url.startswith("sqlite"):
        return []
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute("PRAGMA foreign_key_check").fetchall()


def assert_app_serves(url: str, tmp_path: Path, uploads: str, data: dict) -> None:
    """The upgraded install works: staff open every client, pet photo, document and visit; a client signs in."""
    app = create_app(make_config(url, tmp_path, UPLOAD_FOLDER=uploads))
    app.test_client_class = IsolatedClient
    app.jinja_env.bytecode_cache = TEMPLATE_CODE
    staff = next(r for r in data["staff_user"].values() if r["role"] == "owner" and r["active"])
    with app.app_context():
        browser = app.test_client()
        with browser.session_transaction() as session:
            session["_user_id"] = f"staff:{staff['id']}:{staff['session_token']}"
        for client in data["client_profile"].values():
            page = browser.get(f"/clients/{client['id']}")
            assert page.status_code == 200, client
            text = page.get_data(as_text=True)
            assert escape(client["last_name"]) in text
            for pet in data["pet"].values():
                if pet["client_id"] == client["id"] and pet["active"]:
                    assert escape(pet["name"]) in text, (client["id"], pet["name"])
        for pet in data["pet"].values():
            assert browser.get(f"/pets/{pet['id']}").status_code == 200
        for photo in data["photo"].values():
            response = browser.get(f"/pets/photos/{photo['id']}")
            assert response.status_code == 200 and response.mimetype == "image/jpeg", photo
        for document in data.get("document", {}).values():
            assert browser.get(f"/pets/documents/{document['id']}").status_code == 200, document
        # A visit of each client in each state (a release's demo has hundreds; the rest are the same page on
        # other dates, and opening them all was most of this test's time).
        reported = {r["visit_id"] for r in data.get("visit_report", {}).values()}
        visits = {(v["client_id"], v["status"], v["id"] in reported): v for v in data.get("visit", {}).values()}
        for visit in visits.values():
            assert browser.get(f"/schedule/visits/{visit['id']}").status_code == 200, visit
        logins = [r for r in data["client_login"].values() if r["active"]]
        for login in logins[:3]:
            portal = app.test_client()
            with portal.session_transaction() as session:
                session["_user_id"] = f"client:{login['id']}:{login['session_token']}"
            assert portal.get("/portal/").status_code == 200, login
        db.session.remove()
        db.engine.dispose()


def files_of(data: dict, uploads: str) -> list[str]:
    paths = [os.path.join(uploads, "photos", r["stored_name"]) for r in data["photo"].values()]
    return paths + [os.path.join(uploads, "documents", r["stored_name"]) for r in data.get("document", {}).values()]


def test_upgrade_refuses_to_leave_dangling_rows_and_changes_nothing(tmp_path, capsys):
    """A row pointing at a missing parent stops the upgrade before its commit; the file stays as it was.

    SQLite only, in every run: PostgreSQL refuses a dangling row when it is written.
    """
    database = f"sqlite:///{tmp_path}/upgrade.sqlite"
    first, *_ = chain()
    migrate(database, tmp_path, first)
    path = database.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:  # a connection without enforcement, as an old release had
        conn.execute("INSERT INTO pet (client_id, name, species, breed, sex, colour, description, care_notes, "
                     "feeding, medications, active, created_at, updated_at) VALUES (999, 'Ghost', 'Dog', '', '', "
                     "'', '', '', '', '', 1, '2026-01-01', '2026-01-01')")
    with pytest.raises(SystemExit) as stopped:  # flask db upgrade exits with 1 and says why
        migrate(database, tmp_path)
    assert stopped.value.code == 1
    said = capsys.readouterr().err
    assert "Upgrade stopped, nothing was changed: 1 row would dangle (1 in pet pointing at missing client_profile)" in said
    assert "A copy from before the upgrade is at " in said
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(first,)]
        assert conn.execute("SELECT name FROM pet").fetchall() == [("Ghost",)]


def test_upgrade_backs_up_the_sqlite_file_first(tmp_path, password_hash, capsys):
    """SQLite only, in every run: PostgreSQL installs are backed up with pg_dump (README)."""
    database = f"sqlite:///{tmp_path}/upgrade.sqlite"
    revisions = chain()
    migrate(database, tmp_path, revisions[-2])
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        Filler(conn, db.metadata, str(tmp_path / "uploads"), password_hash).fill()
    engine.dispose()
    before = read_all(database)

    migrate(database, tmp_path)

    copies = list(tmp_path.glob(f"upgrade.before-upgrade-from-{revisions[-2]}.*.sqlite"))
    assert len(copies) == 1
    assert f"Backed up the database (at revision {revisions[-2]}) to {copies[0]}" in capsys.readouterr().err
    assert differences(before, read_all(f"sqlite:///{copies[0]}")) == []
    migrate(database, tmp_path)  # at the head already: nothing to do, no second copy
    assert len(list(tmp_path.glob("upgrade.before-upgrade-*"))) == 1


def landed_commits() -> dict[str, str]:
    """The commit on main that added each migration, by revision ("0007": commit), from the git history."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        if os.environ.get("CI"):
            pytest.fail("CI needs the git history to test upgrades from earlier releases")
        return {}
    # Main's own line only (--first-parent): a merged branch's commits were never a release; a migration renumbered
    # as its branch was merged would otherwise be installed under its old number.
    out = subprocess.run(["git", "log", "--first-parent", "--reverse", "--diff-filter=A", "--format=%H", "--name-only",
                          "--", "migrations/versions/"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    found, commit = {}, None
    for line in out.splitlines():
        if len(line) == 40 and " " not in line and "/" not in line:
            commit = line
        elif line.endswith(".py"):
            found[Path(line).name.split("_", 1)[0]] = commit
    return found


INSTALL_RELEASE = """
import argon2
# The release's passwords are hashed with argon2's cheapest parameters, as the suite's are (tests/conftest.py): the
# defaults cost 0.1 s a hash. The parameters are written in each hash, so today's code checks them as it would.
_hasher_init = argon2.PasswordHasher.__init__
argon2.PasswordHasher.__init__ = lambda self, *a, **k: _hasher_init(self, time_cost=1, memory_cost=8, parallelism=1)

from flask_migrate import upgrade
from app import create_app
app = create_app()
with app.app_context():
    upgrade()
    result = app.test_cli_runner().invoke(args=["seed-demo", "--clients", "6"])  # every kind of demo row, quicker
print(result.output, result.exception or "")
raise SystemExit(result.exit_code)
"""


@pytest.fixture(scope="session")
def releases(tmp_path_factory):
    """The source tree of each commit that added a migration, exported from git once per run."""
    root = tmp_path_factory.mktemp("releases")

    def export(commit: str) -> Path:
        target = root / commit[:12]
        if not target.exists():
            target.mkdir()
            archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        return target

    return export


# Libraries the test process has loaded that a release does not need (the test tools themselves).
TEST_TOOLS = ("_pytest", "pytest", "pluggy", "xdist", "execnet", "playwright", "pyee", "greenlet", "aiosmtpd",
              "iniconfig", "py", "locust", "gevent", "zope")


@pytest.fixture(scope="session")
def installer(tmp_path_factory):
    """A process that has imported the libraries today's app uses, forking a child per release (release_installer).

    Only modules from site-packages are imported there, none named like a module of the app (a release's own)."""
    if not RELEASES:
        yield None  # no history: the test builds each revision with today's migrations
        return
    libraries = sysconfig.get_paths()["purelib"]
    ours = {path.stem for path in ROOT.iterdir()}
    names = sorted(name for name, module in list(sys.modules.items())
                   if (getattr(module, "__file__", None) or "").startswith(libraries)
                   and name.split(".")[0] not in ours and name.split(".")[0] not in TEST_TOOLS)
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "release_installer.py")], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=tmp_path_factory.mktemp("installer"),
                               env=environment)
    process.stdin.write(json.dumps(names) + "\n")
    process.stdin.flush()
    assert json.loads(process.stdout.readline()) == {"ready": True}
    yield process
    process.stdin.close()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def install_release(installer, commit: str, source: Path, database: str, uploads: Path) -> None:
    """`flask db upgrade` then `flask seed-demo` of the release at `source`, in one process (the app starts once)."""
    env = {"FLASK_APP": "app:create_app", "DATABASE_URL": database, "PAWTAL_OUTBOX_WORKER": "0",
           "PAWTAL_UPLOAD_FOLDER": str(uploads), "MAIL_SUPPRESS_SEND": "1", "PYTHONPATH": str(source)}
    output = uploads.parent / "release-install.log"
    job = {"source": str(source), "env": env, "code": INSTALL_RELEASE, "output": str(output)}
    installer.stdin.write(json.dumps(job) + "\n")
    installer.stdin.flush()
    answer = installer.stdout.readline()
    assert answer, "the release installer has stopped"
    logged = output.read_text(errors="replace") if output.exists() else "(no output: see the test's stderr)"
    assert json.loads(answer)["returncode"] == 0, f"release {commit}:\n" + logged[-4000:]


RELEASES = landed_commits()


@pytest.mark.parametrize("revision", chain())
def test_upgrade_from_each_revision_keeps_every_row(revision, releases, installer, database, tmp_path, password_hash):
    """From each revision, today's code upgrades a populated database to the head and loses nothing.

    The database is made by the release that added `revision`, with that release's own code and demo data (from the
    git history; without it, by today's migrations up to `revision`); then every table gets rows of its own
    (Filler), demo data leaving some empty. Every row is compared before and after, files kept, pages served."""
    uploads = tmp_path / "uploads"
    release = RELEASES.get(revision)  # none for a migration not committed yet (test_every_migration_has_its_release)
    if release:
        install_release(installer, release, releases(release), database, uploads)
    else:
        migrate(database, tmp_path, revision)
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == revision
        demo = {name: conn.scalar(sa.text(f"SELECT count(*) FROM {name}")) for name in ("client_profile", "pet", "photo")}
        Filler(conn, db.metadata, str(uploads), password_hash).fill()
    engine.dispose()
    before = read_all(database)
    assert all(rows for name, rows in before.items() if name != "alembic_version"), "every table has rows"
    if release:
        assert all(demo.values()), f"the release's demo data is there: {demo}"

    migrate(database, tmp_path)

    after = read_all(database)
    lost = differences(before, after)
    assert not lost, "the upgrade lost or changed:\n" + "\n".join(lost)
    assert dangling(database) == []
    assert all(os.path.exists(path) for path in files_of(before, str(uploads)))
    assert_app_serves(database, tmp_path, str(uploads), after)


def test_every_migration_has_its_release():
    """Each revision is upgraded from with the release that added it: the history names one for every revision but
    a migration still being written (not committed yet), which today's migrations build meanwhile."""
    if not RELEASES:
        pytest.skip("not a git checkout: upgrades from earlier releases are tested from the history")
    uncommitted = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "migrations/versions/"],
                                 cwd=ROOT, capture_output=True, text=True, check=True).stdout
    new = {Path(line[3:]).name.split("_", 1)[0] for line in uncommitted.splitlines() if line[:2] in ("??", "A ")}
    assert set(RELEASES) <= set(chain())
    assert set(chain()) - set(RELEASES) == new - set(RELEASES), "a landed migration has no release in the history"


def test_0011_gives_each_visit_report_its_visits_client(database, tmp_path, password_hash):
    """The reports written before 0011 get the client of their own visit, not a default."""
    migrate(database, tmp_path, "0010")
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        Filler(conn, db.metadata, str(tmp_path / "uploads"), password_hash).fill()
    engine.dispose()
    migrate(database, tmp_path, "0011")
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT r.client_id, v.client_id FROM visit_report r JOIN visit v ON v.id = r.visit_id")).all()
    engine.dispose()
    assert rows and all(report == visit for report, visit in rows)
    assert len({visit for _, visit in rows}) > 1  # the reports belong to several clients: a constant would fail


from models import SEARCH_TRIGRAM_INDEX as TRIGRAM_INDEX  # noqa: E402 - beside the tests that use it


def client_search_plans(url: str, tmp_path: Path, q: str) -> tuple[str, list[str]]:
    """The client table's page for a search of `q` as the owner sees it, and PostgreSQL's plans of the queries
    that matched a LIKE."""
    app = create_app(make_config(url, tmp_path))
    app.test_client_class = IsolatedClient
    seen = []

    def keep(conn, cursor, statement, params, context, many):
        if " LIKE " in statement:
            seen.append((statement, params))

    with app.app_context():
        from models import Role, StaffUser

        owner = StaffUser(email="owner@example.com", first_name="Olga", role=Role.OWNER)
        db.session.add(owner)
        db.session.commit()
        browser = app.test_client()
        with browser.session_transaction() as session:
            session["_user_id"] = owner.get_id()
        sa.event.listen(db.engine, "before_cursor_execute", keep)
        page = browser.get(f"/clients/?q={q}")
        sa.event.remove(db.engine, "before_cursor_execute", keep)
        assert page.status_code == 200
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # a test's few rows are read whole, index or not: ask for the plan
                conn.exec_driver_sql("SET enable_seqscan = off")  # that an index can give, else still a scan
            plans = ["\n".join(conn.exec_driver_sql("EXPLAIN " + statement, params).scalars())
                     for statement, params in seen] if conn.dialect.name == "postgresql" else []
        db.session.remove()
        db.engine.dispose()
    return page.get_data(as_text=True), plans


def test_0022_finds_clients_by_part_of_a_word_from_a_trigram_index_on_postgresql(database, tmp_path):
    """PostgreSQL: after the upgrade the search's query for part of a name can be answered from the trigram index
    instead of by reading every client (the bench shows the planner choosing it over 10,000 clients). SQLite gets
    no such index (the migration leaves it alone) and finds the same client."""
    migrate(database, tmp_path)
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        from models import ClientProfile

        conn.execute(sa.insert(ClientProfile.__table__), [
            {"first_name": "Ann", "last_name": f"Other{i}", "search_text": f"ann other{i} 555{i:07d} pet{i}"}
            for i in range(30)] + [{"first_name": "Zed", "last_name": "Smithers", "search_text": "zed smithers"}])
        indexes = {index["name"] for index in sa.inspect(conn).get_indexes("client_profile")}
    postgresql = engine.dialect.name == "postgresql"
    engine.dispose()
    assert (TRIGRAM_INDEX in indexes) is postgresql

    page, plans = client_search_plans(database, tmp_path, "mither")

    assert "Smithers" in page and "Other1<" not in page
    if postgresql:
        assert plans and all(TRIGRAM_INDEX in plan for plan in plans), plans


@pytest.mark.postgresql_run  # a database and a role of its own on the PostgreSQL server
@pytest.mark.parametrize("installed_apart", [False, True], ids=["no-create-on-database", "extension-in-other-schema"])
def test_0022_goes_on_without_the_index_where_pg_trgm_cannot_be_created(_schema, tmp_path, capsys, installed_apart):
    """A role that may make tables but not extensions (no CREATE on the database), or whose DBA installed pg_trgm in
    a schema the role may not use, still upgrades to the head; the upgrade says the index was left out, and the
    search finds the client by reading the table."""
    server = sa.engine.make_url(os.environ.get("TEST_DATABASE_URL") or _schema)
    name = f"no_trgm_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"DROP ROLE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE ROLE {name} LOGIN"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))  # owned by the suite's role, not by the app's
    owner = sa.create_engine(server.set(database=name), isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(sa.text(f"GRANT CREATE, USAGE ON SCHEMA public TO {name}"))
        if installed_apart:
            conn.execute(sa.text("CREATE SCHEMA extensions"))
            conn.execute(sa.text("CREATE EXTENSION pg_trgm SCHEMA extensions"))
    owner.dispose()
    url = server.set(database=name, username=name, password=None).render_as_string(hide_password=False)
    try:
        migrate(url, tmp_path)
        said = capsys.readouterr().err
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == chain()[-1]
            assert conn.scalar(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")) == installed_apart
            assert TRIGRAM_INDEX not in {index["name"] for index in sa.inspect(conn).get_indexes("client_profile")}
            from models import ClientProfile

            conn.execute(sa.insert(ClientProfile.__table__),
                         [{"first_name": "Zed", "last_name": "Smithers", "search_text": "zed smithers"}])
        engine.dispose()
        assert "The client search's trigram index was not made" in said
        assert ("permission denied for schema extensions" if installed_apart else "permission denied") in said
        page, plans = client_search_plans(url, tmp_path, "mither")
        assert "Smithers" in page and plans and not any(TRIGRAM_INDEX in plan for plan in plans)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {name}"))
        admin.dispose()
