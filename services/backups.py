"""Copies of the database: one taken before a risky operation (an upgrade) so it can be undone, and whole-install
backups (`flask backup`, `flask restore`): one .tar.gz with the database, every upload and a manifest.

A backup is a gzip-compressed tar rather than a zip: every server has `tar` to look inside one
(`tar -tzf pawtal-2026-11-26.tar.gz`, `tar -xOzf ... manifest.json`), it is written in one pass as a stream,
and the photos and pg_dump's custom format are compressed already, so zip's per-file access buys nothing here.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from contextlib import contextmanager
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from extensions import db
from models import SEARCH_TRIGRAM_INDEX, index_client_search
from services.errors import DomainError

FORMAT = "pawtal-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE_FILES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
KINDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
UPLOADS = "uploads/"
# The rows `flask db upgrade` itself makes in a new install: they do not make it "not empty".
MIGRATION_ROWS = frozenset({"alembic_version", "site_settings"})
# libpq settings a DATABASE_URL may carry as query options, and the environment variables pg_dump reads them from.
LIBPQ_OPTIONS = {"host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
                 "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "options": "PGOPTIONS", "passfile": "PGPASSFILE",
                 "service": "PGSERVICE", "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME",
                 "target_session_attrs": "PGTARGETSESSIONATTRS", "gssencmode": "PGGSSENCMODE"}
CHUNK = 1024 * 1024


class BackupError(DomainError):
    """A backup could not be written, or a file could not be restored; the message says why."""


def backup_sqlite(path: str, label: str) -> str:
    """Copy a SQLite database file with SQLite's online backup API; return the copy's path.

    The copy sits next to the file, named after it, the label and the UTC time, e.g.
    `pawtal.before-upgrade-from-0004.20261125T160000Z.sqlite`. The backup API reads a consistent
    snapshot even in WAL mode, which copying the file would not.
    """
    stem, extension = os.path.splitext(path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    destination = f"{stem}.{label}.{stamp}{extension or '.sqlite'}"
    _sqlite_copy(path, destination)
    return destination


def _sqlite_copy(path: str, destination: str) -> None:
    source = sqlite3.connect(path)
    try:
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def write_backup(output: str | None) -> tuple[str, dict, int]:
    """Write the whole install (database and uploads) to one .tar.gz; return its path, manifest and size.

    The file is written under a temporary name beside its final one and renamed when complete, so a
    failed or interrupted backup never leaves half a file under the final name; it is readable by its
    owner only (mode 0600): it holds every client's personal data.
    """
    engine = db.engine
    kind = engine.dialect.name
    if kind not in DATABASE_FILES:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {kind}.")
    final = _output_path(output)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    uploads = current_app.config["UPLOAD_FOLDER"]
    db.session.remove()
    with tempfile.TemporaryDirectory(dir=os.path.dirname(final), prefix=".pawtal-backup-") as work:
        dump = os.path.join(work, DATABASE_FILES[kind])
        if kind == "sqlite":
            tables, revision = _copy_sqlite_database(engine.url, dump)
        else:
            tables, revision = _dump_postgresql(engine, dump)
        partial = os.path.join(work, "backup.tar.gz")
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                database = _add_file(tar, dump, DATABASE_FILES[kind])
                files = [_add_file(tar, os.path.join(uploads, *name.split("/")), UPLOADS + name)
                         for name in _upload_names(uploads)]
                manifest = {
                    "format": FORMAT, "format_version": FORMAT_VERSION,
                    "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "revision": revision,
                    "database": {"kind": kind, "file": DATABASE_FILES[kind], "size": database["size"],
                                 "sha256": database["sha256"]},
                    "tables": tables,
                    "uploads": [{**entry, "path": entry["path"].removeprefix(UPLOADS)} for entry in files],
                }
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, final)
    return final, manifest, os.path.getsize(final)


def _output_path(output: str | None) -> str:
    name = f"pawtal-backup-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
    if not output:
        return os.path.abspath(name)
    if os.path.isdir(output) or output.endswith(("/", os.sep)):
        return os.path.abspath(os.path.join(output, name))
    return os.path.abspath(output)


def _copy_sqlite_database(url: sa.URL, destination: str) -> tuple[dict, str]:
    """A consistent copy of the live file (the online backup API), and its row counts and revision."""
    path = url.database
    if not path or path == ":memory:" or not os.path.exists(path):
        raise BackupError(f"The SQLite database {path or ':memory:'} is not a file on disk: nothing to back up.")
    _sqlite_copy(path, destination)
    engine = sa.create_engine(f"sqlite:///{destination}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return _census(connection)
    finally:
        engine.dispose()


def _dump_postgresql(engine: sa.Engine, destination: str) -> tuple[dict, str]:
    """pg_dump's custom format of the database, and row counts taken from the very snapshot pg_dump reads."""
    pg_dump = postgresql_tool("pg_dump")
    with engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            # pg_dump joins this transaction's snapshot, so the counts in the manifest are the dump's own.
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
            census = _census(connection)
            # Pawtal's own schema only: a database shared with other schemas (another app's) gives just Pawtal's.
            _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  f"--schema={schema}", f"--file={destination}"], engine.url)
    return census


def _census(connection: sa.Connection) -> tuple[dict, str]:
    """Rows per table, and the migration revision the schema is at."""
    names = sorted(sa.inspect(connection).get_table_names())
    if "alembic_version" not in names:
        raise BackupError("The database has no migration revision (no alembic_version table): "
                          "run `flask db upgrade` first.")
    counts = {name: connection.scalar(sa.select(sa.func.count()).select_from(sa.table(name))) for name in names}
    revisions = sorted(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
    return counts, ",".join(revisions)


def _upload_names(folder: str) -> list[str]:
    """Every regular file under the upload folder, as a path relative to it with '/' between parts."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                found.append(os.path.relpath(path, folder).replace(os.sep, "/"))
    return found


class _Hashing:
    """A file object that hashes what is read through it."""

    def __init__(self, source):
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def _add_file(tar: tarfile.TarFile, path: str, name: str) -> dict:
    with open(path, "rb") as source:
        info = tar.gettarinfo(arcname=name, fileobj=source)
        info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
        reader = _Hashing(source)
        tar.addfile(info, reader)
    return {"path": name, "size": reader.size, "sha256": reader.digest.hexdigest()}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(timezone.utc).timestamp())
    tar.addfile(info, _BytesReader(data))


class _BytesReader:
    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk, self.offset = self.data[self.offset:end], min(end, len(self.data))
        return chunk


def postgresql_tool(name: str) -> str:
    """The path of pg_dump or pg_restore, or a message saying how to get them."""
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} was not found: install PostgreSQL's client programs (on Debian and Ubuntu "
                          f"`apt install postgresql-client`), of the server's major version or newer, and try again.")
    return found


def postgresql_environment(url: sa.URL | str) -> dict[str, str]:
    """The environment for pg_dump and pg_restore: the connection as PG* variables, never on the command line
    (where every user of the server could read the password)."""
    url = make_url(url)
    settings = {"PGHOST": url.host, "PGPORT": url.port, "PGUSER": url.username, "PGPASSWORD": url.password,
                "PGDATABASE": url.database}
    for option, value in url.query.items():
        if option not in LIBPQ_OPTIONS:
            raise BackupError(f"DATABASE_URL carries the option {option!r}, which backups cannot pass on to "
                              "pg_dump and pg_restore.")
        settings[LIBPQ_OPTIONS[option]] = value[-1] if isinstance(value, tuple) else value
    return {**os.environ, **{name: str(value) for name, value in settings.items() if value not in (None, "")}}


def _run(command: list[str], url: sa.URL) -> str:
    done = subprocess.run(command, env=postgresql_environment(url), capture_output=True, text=True)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip()[-2000:]
        raise BackupError(f"{os.path.basename(command[0])} failed (exit status {done.returncode}): {said}")
    return done.stdout


def restore_backup(path: str) -> dict:
    """Bring a backup back into this install, which must be empty; then migrate it to the head. Returns the manifest.

    Everything that can be checked is checked before anything is written: the archive reads to its end, every
    member is a plain file Pawtal writes (no absolute path, no '..', no link), the manifest lists exactly the
    members there are, the database is of this install's kind at a revision this code knows, the install is
    empty, and every file's SHA-256 matches. Then the database is restored, its row counts compared with the
    manifest's, the uploads moved into place, and `flask db upgrade` run in case the backup is from an older release.
    """
    kind = db.engine.dialect.name
    uploads = current_app.config["UPLOAD_FOLDER"]
    with _reading(path):
        tar = tarfile.open(path, mode="r:gz")
    with tar:
        with _reading(path):
            members = _members(tar, path)
            manifest = _manifest(tar, members, path)
        _check_fits(manifest, kind)
        _refuse_unless_empty(uploads)
        staging_parent = os.path.dirname(os.path.abspath(uploads))
        os.makedirs(staging_parent, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=staging_parent, prefix=".pawtal-restore-") as work:
            with _reading(path):
                database, files = _unpack(tar, members, manifest, work)
            db.session.remove()
            db.engine.dispose()
            if kind == "sqlite":
                _restore_sqlite(database, db.engine.url)
            else:
                _restore_postgresql(database, db.engine, manifest["revision"])
            _verify_counts(manifest)
            for name, staged in files:
                target = os.path.join(uploads, *name.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.move(staged, target)
    db.session.remove()
    upgrade()
    return manifest


@contextmanager
def _reading(path: str):
    """Reading the archive: a file that is not a gzip-compressed tar, or is cut short or damaged, is said to be so."""
    try:
        yield
    except (tarfile.TarError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise BackupError(f"{path} is not a Pawtal backup or is damaged ({error}); nothing was restored.") from None
    except OSError as error:  # gzip.BadGzipFile, a read error
        raise BackupError(f"Reading {path} failed ({error}); nothing was restored.") from None


def _members(tar: tarfile.TarFile, path: str) -> dict[str, tarfile.TarInfo]:
    """The archive's files by name; reading them all first finds a truncated or damaged file before any write."""
    found = {}
    for member in tar.getmembers():
        if not _safe_name(member.name) or not (member.isfile() or member.isdir()) or member.name in found:
            raise BackupError(f"{path} holds a member Pawtal never writes ({member.name!r}): refused, "
                              "nothing was restored.")
        if member.isfile():
            found[member.name] = member
    return found


def _safe_name(name: str) -> bool:
    """A relative path without '..', empty parts or backslashes: it can only land inside the folder it is put in."""
    parts = name.split("/")
    return (bool(name) and not name.startswith("/") and "\\" not in name and ":" not in parts[0]
            and all(part not in ("", ".", "..") for part in parts) and "\x00" not in name)


def _manifest(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], path: str) -> dict:
    if MANIFEST not in members:
        raise BackupError(f"{path} has no {MANIFEST}: it is not a Pawtal backup; nothing was restored.")
    try:
        manifest = json.loads(tar.extractfile(members[MANIFEST]).read())
        if manifest.get("format") != FORMAT:
            raise ValueError("not a Pawtal backup's manifest")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise BackupError(f"{path} is a backup of format {manifest.get('format_version')!r}; this release "
                              f"reads format {FORMAT_VERSION}. Nothing was restored.")
        database, files = manifest["database"], manifest["uploads"]
        expected = {MANIFEST, database["file"], *(UPLOADS + entry["path"] for entry in files)}
        sizes = [int(database["size"]), *(int(entry["size"]) for entry in files)]
        valid = (isinstance(manifest["revision"], str) and isinstance(manifest["tables"], dict)
                 and database.get("kind") in DATABASE_FILES and database["file"] == DATABASE_FILES[database["kind"]]
                 and all(_safe_name(entry["path"]) for entry in files) and len(expected) == len(files) + 2
                 and all(size >= 0 for size in sizes))
    except BackupError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BackupError(f"{path} has a damaged {MANIFEST} ({error}); nothing was restored.") from None
    if not valid or set(members) != expected:
        raise BackupError(f"{path}: its {MANIFEST} does not list the files the archive holds; nothing was restored.")
    return manifest


def _check_fits(manifest: dict, kind: str) -> None:
    """Same kind of database, and a revision this release's migrations know (else the backup is from a newer one)."""
    made_on = manifest["database"]["kind"]
    if made_on != kind:
        raise BackupError(f"This backup was made on {KINDS[made_on]} and this install uses {KINDS.get(kind, kind)}: "
                          "backups restore into the same kind of database only. Nothing was restored.")
    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    known = {revision.revision for revision in script.walk_revisions()}
    unknown = [revision for revision in manifest["revision"].split(",") if revision not in known]
    if unknown or not manifest["revision"]:
        raise BackupError(f"This backup is at migration revision {manifest['revision'] or '(none)'}, which this "
                          "release does not know: it comes from a newer Pawtal. Install that release (or a later "
                          "one), then restore. Nothing was restored.")


def _refuse_unless_empty(uploads: str) -> None:
    """An empty install: no row in any table but those `flask db upgrade` makes itself (or no tables at all), and no
    file in the upload folder. A restore never overwrites anyone's data."""
    with db.engine.connect() as connection:
        names = sa.inspect(connection).get_table_names()
        busy = {name: connection.scalar(sa.select(sa.func.count()).select_from(sa.table(name)))
                for name in names if name not in MIGRATION_ROWS}
    busy = {name: count for name, count in busy.items() if count}
    if busy:
        people = ", ".join(f"{busy[name]} in {name}" for name in ("staff_user", "client_profile") if name in busy)
        raise BackupError(f"This install is not empty (rows in {len(busy)} tables{': ' + people if people else ''}): "
                          "restore only into a new install with an empty database. Nothing was restored.")
    if _upload_names(uploads):
        raise BackupError(f"The upload folder {uploads} already holds files: restore only into a new install with "
                          "an empty upload folder. Nothing was restored.")


def _unpack(tar: tarfile.TarFile, members: dict, manifest: dict, work: str) -> tuple[str, list[tuple[str, str]]]:
    """Extract the database and uploads into `work`, each checked against the manifest's size and SHA-256."""
    database = manifest["database"]
    staged_database = os.path.join(work, database["file"])
    _extract(tar, members[database["file"]], staged_database, database)
    files = []
    for entry in manifest["uploads"]:
        staged = os.path.join(work, "uploads", *entry["path"].split("/"))
        _extract(tar, members[UPLOADS + entry["path"]], staged, entry)
        files.append((entry["path"], staged))
    return staged_database, files


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, destination: str, expected: dict) -> None:
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    source = _Hashing(tar.extractfile(member))
    with open(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        while chunk := source.read(CHUNK):
            out.write(chunk)
    if source.size != int(expected["size"]) or source.digest.hexdigest() != expected["sha256"]:
        raise BackupError(f"{member.name} in the backup does not match its manifest (size or SHA-256): the file is "
                          "damaged. Nothing was restored.")


def _restore_sqlite(staged: str, url: sa.URL) -> None:
    path = url.database
    if not path or path == ":memory:":
        raise BackupError("This install's SQLite database is not a file on disk: set DATABASE_URL to a file.")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # Through the backup API, not a file copy: SQLite replaces every page itself, and its -wal file goes with them.
    _sqlite_copy(staged, path)


def _restore_postgresql(staged: str, engine: sa.Engine, revision: str) -> None:
    """pg_restore into the empty database, in one transaction, after dropping the empty tables a `flask db upgrade`
    may have made (the dump creates its own)."""
    pg_restore = postgresql_tool("pg_restore")
    with engine.begin() as connection:
        tables = sa.MetaData()
        tables.reflect(connection)
        tables.drop_all(connection)
    # Everything but the schema itself, which the empty install has already (pg_restore would make it again).
    # The search's trigram index too: its operator class comes from an extension the dump of one schema leaves
    # out; it is made again below, the extension first.
    listed = _run([pg_restore, "--list", staged], engine.url).splitlines()
    trigrams = [line for line in listed if re.search(rf" INDEX \S+ {SEARCH_TRIGRAM_INDEX} ", line)]
    contents = [line for line in listed if not re.search(r"^\d+; \d+ \d+ (SCHEMA|COMMENT - SCHEMA) ", line)
                and line not in trigrams]
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as chosen:
        chosen.write("\n".join(contents) + "\n")
    try:
        _run([pg_restore, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
              f"--use-list={chosen.name}", f"--dbname={engine.url.database}", staged], engine.url)
    finally:
        os.remove(chosen.name)
    if not _includes_migration(revision, TRIGRAM_MIGRATION):  # an older backup: the upgrade that follows makes it
        return
    with engine.begin() as connection:
        refused = index_client_search(connection)
    if refused:
        current_app.logger.warning("The client search's trigram index was not made (%s): the search works without "
                                   "it, more slowly.", refused)


# The migration that adds the search's trigram index (see models.index_client_search).
TRIGRAM_MIGRATION = "0022"


def _includes_migration(revision: str, wanted: str) -> bool:
    """Whether a database at `revision` (heads joined by commas) has had migration `wanted` applied."""
    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    return any(step.revision == wanted for head in revision.split(",")
               for step in script.iterate_revisions(head, "base"))


def _verify_counts(manifest: dict) -> None:
    """The restored database holds as many rows per table as the backup's manifest says (before any migration)."""
    with db.engine.connect() as connection:
        found, _revision = _census(connection)
    db.engine.dispose()
    wrong = [f"{name}: {found.get(name, 'no table')} rows, {count} expected"
             for name, count in sorted(manifest["tables"].items()) if found.get(name) != count]
    if wrong:
        raise BackupError("The restored database does not match the backup's manifest (" + "; ".join(wrong[:5])
                          + "). Empty this install's database before trying again.")
