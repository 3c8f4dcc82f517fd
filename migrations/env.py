"""Alembic environment for Pawtal (run by `flask db upgrade`).

On SQLite every upgrade runs in one transaction on its own connection with foreign-key enforcement
off, because a batch migration recreates a table (copy, DROP TABLE, rename) and with enforcement on
that DROP fires ON DELETE CASCADE / SET NULL on every child table: pets, emails and logins went with
it in releases before this guard. Integrity is checked before the commit instead, and any dangling
row stops the upgrade with nothing changed. A file database is backed up next to itself first.
PostgreSQL keeps its native, transactional ALTER TABLE.
"""
import logging
from logging.config import fileConfig

import click
import sqlalchemy as sa
from alembic import context
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy.pool import NullPool

from services import backups

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


class DanglingRows(RuntimeError):
    """The upgrade would leave rows pointing at rows that do not exist."""


def app_engine() -> sa.Engine:
    return current_app.extensions["migrate"].db.engine


def metadata() -> sa.MetaData:
    return current_app.extensions["migrate"].db.metadata


def sqlite_migration_engine(url: sa.URL) -> sa.Engine:
    """A connection for migrations only: enforcement off (outside any transaction), then one explicit BEGIN.

    pysqlite would otherwise commit DDL as it goes; with autocommit at the driver and our own BEGIN,
    SQLite's DDL is transactional and a failed upgrade leaves the file as it was.
    """
    engine = sa.create_engine(url, poolclass=NullPool)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection):
        # IMMEDIATE takes the write lock now, so a running app cannot write between our steps.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def check_foreign_keys(connection: sa.Connection, backup: str | None) -> None:
    """Fail the upgrade (before its commit) if any row points at a row that does not exist."""
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if not rows:
        return
    counts: dict[tuple[str, str], int] = {}
    for table, _rowid, parent, _fk in rows:
        counts[(table, parent)] = counts.get((table, parent), 0) + 1
    found = "; ".join(f"{n} in {table} pointing at missing {parent}" for (table, parent), n in sorted(counts.items()))
    kept = f" A copy from before the upgrade is at {backup}." if backup else ""
    rows_text = "1 row would dangle" if len(rows) == 1 else f"{len(rows)} rows would dangle"
    raise DanglingRows(f"Upgrade stopped, nothing was changed: {rows_text} ({found}). "
                       f"Run `PRAGMA foreign_key_check` with sqlite3 to see them.{kept}")


def repair_first_landing(connection: sa.Connection) -> None:
    """Give a database made by the very first release the column that 0001 gained after it landed.

    Migration 0001 was edited after its first release to add client_profile.search_text, so such a
    database is at revision 0001 without it, and 0002 fails on it. Add it here and fill it the way
    the app does (names, phone digits, emails and pet names, lower case), then migrate as usual.
    """
    if context.get_context().get_current_revision() != "0001":
        return
    if "search_text" in {c["name"] for c in sa.inspect(connection).get_columns("client_profile")}:
        return
    logger.info("Repairing a database from the first release: adding client_profile.search_text")
    connection.exec_driver_sql("ALTER TABLE client_profile ADD COLUMN search_text TEXT NOT NULL DEFAULT ''")
    profile = sa.table("client_profile", sa.column("id"), sa.column("first_name"), sa.column("last_name"),
                       sa.column("phone_digits"), sa.column("search_text"))
    email = sa.table("client_email", sa.column("client_id"), sa.column("email"), sa.column("is_primary"),
                     sa.column("id"))
    pet = sa.table("pet", sa.column("client_id"), sa.column("name"))
    extra: dict[int, list[str]] = {}
    for client_id, value in connection.execute(
            sa.select(email.c.client_id, email.c.email).order_by(email.c.is_primary.desc(), email.c.id)):
        extra.setdefault(client_id, []).append(value)
    for client_id, value in connection.execute(sa.select(pet.c.client_id, pet.c.name).order_by(pet.c.name)):
        extra.setdefault(client_id, []).append(value)
    for row in connection.execute(sa.select(profile.c.id, profile.c.first_name, profile.c.last_name,
                                            profile.c.phone_digits)).all():
        parts = [row.first_name, row.last_name, row.phone_digits, *extra.get(row.id, [])]
        text = " ".join(p for p in parts if p).lower()[:480]
        connection.execute(profile.update().where(profile.c.id == row.id).values(search_text=text))


def back_up_if_behind(engine: sa.Engine) -> str | None:
    """Copy an existing SQLite file aside before changing it, naming the revision it was at."""
    path = engine.url.database
    if not path or path == ":memory:" or not current_app.config.get("BACKUP_BEFORE_UPGRADE", True):
        return None
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        current = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    if current is None or current in ScriptDirectory.from_config(config).get_heads():
        return None
    destination = backups.backup_sqlite(path, f"before-upgrade-from-{current}")
    click.echo(f"Backed up the database (at revision {current}) to {destination}", err=True)
    return destination


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    conf_args = dict(current_app.extensions["migrate"].configure_args)

    def skip_empty_autogenerate(_context, _revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args.setdefault("process_revision_directives", skip_empty_autogenerate)
    engine = app_engine()
    sqlite = engine.dialect.name == "sqlite"
    backup = None
    if sqlite:
        engine = sqlite_migration_engine(engine.url)
        backup = back_up_if_behind(engine)
        # One transaction for the whole upgrade, so the integrity check below can still undo it.
        conf_args.update(transactional_ddl=True, transaction_per_migration=False)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata(), **conf_args)
        with context.begin_transaction():
            repair_first_landing(connection)
            context.run_migrations()
            if sqlite:
                check_foreign_keys(connection, backup)
    if sqlite:
        engine.dispose()


config.set_main_option("sqlalchemy.url", app_engine().url.render_as_string(hide_password=False).replace("%", "%%"))
if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
