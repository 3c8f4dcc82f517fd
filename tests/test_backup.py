"""`flask backup` and `flask restore`: a populated install comes back whole (every row, every file), and a restore
refuses whatever it must (a non-empty install, a tampered, damaged or foreign file) with nothing changed.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL: that database is the source and the database of the
same name with `_restore` after it the target; both have their schema dropped and made again here.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from app import MIGRATIONS, create_app
from extensions import db
from models import SEARCH_TRIGRAM_INDEX
from services import backups
from tests.conftest import make_config, stamp_head
from tests.migration_data import Filler, differences, snapshot


def _reset_schema(url: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def _create_database(url: str) -> None:
    target = make_url(url)
    engine = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}) is None:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


@pytest.fixture
def urls(_schema, tmp_path):
    """(source, target): two empty databases of the suite's kind; their files go in tmp_path/source and /target."""
    for folder in ("source", "target"):
        (tmp_path / folder).mkdir()
    if not _schema.startswith("postgresql"):
        yield f"sqlite:///{tmp_path}/source/pawtal.sqlite", f"sqlite:///{tmp_path}/target/pawtal.sqlite"
        return
    # CI runs this with PostgreSQL: without its client programs the backup cannot be tested, so fail, never skip.
    assert shutil.which("pg_dump") and shutil.which("pg_restore"), \
        "TEST_DATABASE_URL is set but pg_dump or pg_restore is not installed (apt install postgresql-client)"
    source = make_url(_schema)
    target = source.set(database=f"{source.database}_restore").render_as_string(hide_password=False)
    _create_database(target)
    for url in (_schema, target):
        _reset_schema(url)
    yield _schema, target
    _reset_schema(target)
    _reset_schema(_schema)
    # Give the other tests back the shared schema as conftest's _schema made it.
    shared = create_app({"SQLALCHEMY_DATABASE_URI": _schema, "TESTING": True})
    with shared.app_context():
        db.create_all()
        stamp_head(db.engine, shared)
        db.engine.dispose()


def install(url: str, folder: Path):
    """The app of an install whose files live in `folder` (its upload folder is folder/uploads)."""
    return create_app(make_config(url, folder))


def populate(app, password_hash: str, revision: str = "head") -> None:
    """Migrate the install to `revision` and fill every table through it, with real upload files."""
    with app.app_context():
        upgrade(revision=revision)
        with db.engine.begin() as conn:
            Filler(conn, db.metadata, app.config["UPLOAD_FOLDER"], password_hash).fill()
        db.session.remove()
        db.engine.dispose()


def run(app, *args: str):
    """Run a flask command in-process, as `flask` runs it (in an app context); close its connections after."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
        db.session.remove()
        db.engine.dispose()
    return result


def read_all(url: str) -> dict:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return snapshot(conn)
    finally:
        engine.dispose()


def files_under(folder: str) -> dict[str, bytes]:
    found = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = Path(path).read_bytes()
    return found


def head() -> str:
    return ScriptDirectory(MIGRATIONS).get_current_head()


def assert_untouched(app, url: str, before: dict | None = None) -> None:
    """The install is as it was: the same rows (or still no table at all) and no upload file, no staging left."""
    assert read_all(url) == (before or {})
    assert files_under(app.config["UPLOAD_FOLDER"]) == {}
    parent = os.path.dirname(app.config["UPLOAD_FOLDER"])
    assert not [name for name in os.listdir(parent) if name.startswith(".pawtal-restore-")]


@pytest.mark.parametrize("target_migrated", [False, True], ids=["new-database", "migrated-empty"])
def test_backup_and_restore_bring_back_every_row_and_file(urls, tmp_path, password_hash, target_migrated,
                                                          monkeypatch):
    source_url, target_url = urls
    source = install(source_url, tmp_path / "source")
    populate(source, password_hash)
    before = read_all(source_url)
    assert all(rows for rows in before.values()), "every table has rows"
    uploads = files_under(source.config["UPLOAD_FOLDER"])
    assert len(uploads) >= 8  # photos and documents
    commands = []
    real_run = backups.subprocess.run
    monkeypatch.setattr(backups.subprocess, "run", lambda command, **kw: commands.append(command) or real_run(
        command, **kw))

    archive = tmp_path / "backups" / "pawtal.tar.gz"
    made = run(source, "backup", "--output", str(archive))

    assert made.exit_code == 0, made.output
    assert f"Backup written to {archive} (" in made.output
    assert f"{len(uploads)} uploaded files" in made.output
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert os.listdir(archive.parent) == ["pawtal.tar.gz"]  # no temporary file left beside it
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["revision"] == head()
    assert manifest["database"]["kind"] == make_url(source_url).get_backend_name()
    assert manifest["tables"] == {name: len(rows) for name, rows in before.items()}
    assert {entry["path"] for entry in manifest["uploads"]} == {name.replace(os.sep, "/") for name in uploads}

    target = install(target_url, tmp_path / "target")
    if target_migrated:
        with target.app_context():
            upgrade()
            db.engine.dispose()
    restored = run(target, "restore", str(archive))

    assert restored.exit_code == 0, restored.output
    assert f"Restored {archive} (made {manifest['created_at']} at revision {head()})" in restored.output
    after = read_all(target_url)
    assert differences(before, after) == []
    assert {name: set(rows) for name, rows in after.items()} == {name: set(rows) for name, rows in before.items()}
    assert files_under(target.config["UPLOAD_FOLDER"]) == uploads
    with target.app_context():
        assert target.test_client().get("/healthz").status_code == 200
        # PostgreSQL: the search's trigram index is back, though the dump of Pawtal's schema leaves its extension out.
        indexes = {index["name"] for index in sa.inspect(db.engine).get_indexes("client_profile")}
        assert (SEARCH_TRIGRAM_INDEX in indexes) is (db.engine.dialect.name == "postgresql")
        db.engine.dispose()
    # pg_dump and pg_restore are given the connection in their environment: no URL nor password in their arguments.
    assert all("@" not in arg and "://" not in arg for command in commands for arg in command)


def test_a_backup_from_an_older_release_is_upgraded_after_the_restore(urls, tmp_path, password_hash):
    source_url, target_url = urls
    older = ScriptDirectory(MIGRATIONS).get_revision(head()).down_revision
    source = install(source_url, tmp_path / "source")
    populate(source, password_hash, revision=older)
    before = read_all(source_url)
    archive = tmp_path / "older.tar.gz"
    assert run(source, "backup", "--output", str(archive)).exit_code == 0

    target = install(target_url, tmp_path / "target")
    restored = run(target, "restore", str(archive))

    assert restored.exit_code == 0, restored.output
    assert f"at revision {older})" in restored.output
    after = read_all(target_url)
    assert list(after["alembic_version"]) == [(head(),)]
    assert differences(before, after) == []


@pytest.fixture
def small_backup(urls, tmp_path):
    """A real backup of a migrated install with no rows of its own and two upload files."""
    source = install(urls[0], tmp_path / "source")
    with source.app_context():
        upgrade()
        db.engine.dispose()
    for name in ("photos/a.jpg", "documents/b.pdf"):
        path = Path(source.config["UPLOAD_FOLDER"], name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode() * 10)
    archive = tmp_path / "small.tar.gz"
    made = run(source, "backup", "--output", str(archive))
    assert made.exit_code == 0, made.output
    return archive


def rewrite(archive: Path, destination: Path, change=None, extra: list[tarfile.TarInfo] = ()) -> Path:
    """A copy of a backup whose manifest and members `change(manifest, members)` edits, with `extra` members."""
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    manifest = json.loads(members.pop("manifest.json"))
    if change:
        change(manifest, members)
    members["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(destination, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"evil" * info.size) if info.isfile() else None)
    return destination


def test_restore_refuses_an_install_that_is_not_empty(urls, tmp_path, password_hash, small_backup):
    source_url, target_url = urls
    source = install(source_url, tmp_path / "populated")
    populate(source, password_hash)
    before, files = read_all(source_url), files_under(source.config["UPLOAD_FOLDER"])

    refused = run(source, "restore", str(small_backup))

    assert refused.exit_code == 1
    assert "This install is not empty (rows in" in refused.output
    assert "staff_user" in refused.output and "client_profile" in refused.output
    assert "Nothing was restored." in refused.output
    assert read_all(source_url) == before
    assert files_under(source.config["UPLOAD_FOLDER"]) == files

    target = install(target_url, tmp_path / "target")  # an empty database, but files in the upload folder
    stray = Path(target.config["UPLOAD_FOLDER"], "photos", "kept.jpg")
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"someone's photo")
    refused = run(target, "restore", str(small_backup))
    assert refused.exit_code == 1
    assert f"The upload folder {target.config['UPLOAD_FOLDER']} already holds files" in refused.output
    assert read_all(target_url) == {}
    assert files_under(target.config["UPLOAD_FOLDER"]) == {os.path.join("photos", "kept.jpg"): b"someone's photo"}


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, 1 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize("evil", [
    _member("../evil"), _member("uploads/../../evil"), _member("/tmp/pawtal-evil"),
    _member("uploads/photos/evil.jpg", tarfile.SYMTYPE, "/etc/passwd"),
    _member("uploads/photos/evil.jpg", tarfile.LNKTYPE, "../../evil"),
], ids=["dot-dot", "dot-dot-inside", "absolute", "symlink", "hard-link"])
def test_restore_refuses_a_tampered_archive_and_writes_nothing(urls, tmp_path, small_backup, evil):
    tampered = rewrite(small_backup, tmp_path / "tampered.tar.gz", extra=[evil])
    target = install(urls[1], tmp_path / "target")

    refused = run(target, "restore", str(tampered))

    assert refused.exit_code == 1
    assert f"holds a member Pawtal never writes ({evil.name!r}): refused, nothing was restored." in refused.output
    assert_untouched(target, urls[1])
    assert not list(tmp_path.rglob("*evil*")) and not os.path.exists("/tmp/pawtal-evil")


def test_restore_refuses_a_damaged_or_foreign_file_with_a_clear_message(urls, tmp_path, small_backup):
    target = install(urls[1], tmp_path / "target")
    noise = tmp_path / "noise.tar.gz"
    noise.write_bytes(os.urandom(4096))
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(small_backup.read_bytes()[: small_backup.stat().st_size // 2])
    bare = tmp_path / "bare.tar.gz"
    with tarfile.open(bare, "w:gz") as tar:
        tar.addfile(_member("notes.txt"), io.BytesIO(b"x"))

    def flip(manifest, members):
        members["uploads/photos/a.jpg"] = b"X" + members["uploads/photos/a.jpg"][1:]

    def unlisted(manifest, members):
        members["uploads/photos/extra.jpg"] = b"not in the manifest"

    cases = {
        noise: f"{noise} is not a Pawtal backup or is damaged",
        cut: f"{cut} is not a Pawtal backup or is damaged",
        bare: f"{bare} has no manifest.json: it is not a Pawtal backup; nothing was restored.",
        rewrite(small_backup, tmp_path / "flipped.tar.gz", flip):
            "uploads/photos/a.jpg in the backup does not match its manifest (size or SHA-256): the file is damaged.",
        rewrite(small_backup, tmp_path / "unlisted.tar.gz", unlisted):
            "its manifest.json does not list the files the archive holds; nothing was restored.",
    }
    for path, message in cases.items():
        refused = run(target, "restore", str(path))
        assert refused.exit_code == 1, path
        assert message in refused.output, refused.output
        assert "Traceback" not in refused.output
        assert_untouched(target, urls[1])


def test_restore_refuses_another_kind_of_database_and_a_newer_release(urls, tmp_path, small_backup):
    target = install(urls[1], tmp_path / "target")
    here = make_url(urls[1]).get_backend_name()
    other = "postgresql" if here == "sqlite" else "sqlite"

    def other_kind(manifest, members):
        members[backups.DATABASE_FILES[other]] = members.pop(manifest["database"]["file"])
        manifest["database"].update(kind=other, file=backups.DATABASE_FILES[other])

    def newer(manifest, members):
        manifest["revision"] = "9999"

    refused = run(target, "restore", str(rewrite(small_backup, tmp_path / "other.tar.gz", other_kind)))
    assert refused.exit_code == 1
    assert (f"This backup was made on {backups.KINDS[other]} and this install uses {backups.KINDS[here]}: backups "
            "restore into the same kind of database only. Nothing was restored.") in refused.output
    refused = run(target, "restore", str(rewrite(small_backup, tmp_path / "newer.tar.gz", newer)))
    assert refused.exit_code == 1
    assert "This backup is at migration revision 9999, which this release does not know" in refused.output
    assert_untouched(target, urls[1])


def test_a_missing_pg_dump_is_named_with_how_to_install_it(urls, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(backups.BackupError, match=r"pg_dump was not found: install PostgreSQL's client programs"):
        backups.postgresql_tool("pg_dump")
    if urls[0].startswith("postgresql"):
        source = install(urls[0], tmp_path / "source")
        with source.app_context():
            upgrade()
            db.engine.dispose()
        failed = run(source, "backup", "--output", str(tmp_path / "b.tar.gz"))
        assert failed.exit_code == 1 and "pg_dump was not found" in failed.output
        assert not (tmp_path / "b.tar.gz").exists()


def test_pg_tools_get_the_connection_from_the_environment():
    env = backups.postgresql_environment(
        "postgresql+psycopg://pawtal:s3cr%40t@db.example.com:6543/pets?sslmode=require")
    assert {name: env[name] for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE")} == {
        "PGHOST": "db.example.com", "PGPORT": "6543", "PGUSER": "pawtal", "PGPASSWORD": "s3cr@t",
        "PGDATABASE": "pets", "PGSSLMODE": "require"}
    with pytest.raises(backups.BackupError, match="carries the option 'frobnicate'"):
        backups.postgresql_environment("postgresql+psycopg://pawtal@db/pets?frobnicate=1")


def test_backup_into_a_folder_names_the_file(urls, tmp_path):
    source = install(urls[0], tmp_path / "source")
    with source.app_context():
        upgrade()
        db.engine.dispose()
    folder = tmp_path / "nightly"
    folder.mkdir()
    made = run(source, "backup", "--output", str(folder))
    assert made.exit_code == 0, made.output
    [written] = list(folder.iterdir())
    assert written.name.startswith("pawtal-backup-") and written.name.endswith(".tar.gz")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
