"""What a monitor asks (/healthz): is the database there, is its schema at the code's migration head, and is
mail getting out. Two small queries when all is well; nothing private in the answer (counts and ages only)."""
from __future__ import annotations

import os
from datetime import timezone
from functools import lru_cache

from alembic.script import ScriptDirectory
from flask import Flask, current_app
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from models import OutboxMessage, utcnow

HEADS = "pawtal_migration_heads"


def init_app(app: Flask, migrations: str) -> None:
    """Read the head revision(s) of the migrations folder once, at startup: the code does not change under it."""
    app.extensions[HEADS] = _heads(migrations, _signature(migrations))


def _signature(migrations: str) -> tuple:
    """What the migration files are now (names, sizes, times): a changed or added file reads the heads again."""
    versions = os.path.join(migrations, "versions")
    return tuple(sorted((entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
                        for entry in os.scandir(versions) if entry.name.endswith(".py")))


@lru_cache(maxsize=8)
def _heads(migrations: str, signature: tuple) -> frozenset:
    """Alembic loads every migration file to find the heads (about 50 ms): once per process for the same files,
    not again for each app a process creates (a test suite makes one per test)."""
    return frozenset(ScriptDirectory(migrations).get_heads())


def check() -> tuple[bool, dict]:
    """(healthy, report): healthy means the database answers and its schema is at the head of the migrations."""
    report = {"database": {"reachable": False}, "migrations": {"at_head": False},
              "outbox": {"unsent": None, "oldest_unsent_seconds": None}}
    try:
        revisions = frozenset(db.session.scalars(text("SELECT version_num FROM alembic_version")))
        report["database"]["reachable"] = True
    except SQLAlchemyError:
        db.session.rollback()
        report["database"]["reachable"] = _reachable()
        if not report["database"]["reachable"]:
            return False, _with_status(report, "database unreachable")
        revisions = frozenset()  # a schema never migrated (no alembic_version table)
    if revisions != current_app.extensions[HEADS]:
        return False, _with_status(report, "migrations not at head")
    report["migrations"]["at_head"] = True
    unsent, oldest = db.session.execute(select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at))
                                        .where(OutboxMessage.sent_at.is_(None))).one()
    report["outbox"] = {"unsent": unsent, "oldest_unsent_seconds": _age(oldest)}
    return True, _with_status(report, "ok")


def _reachable() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        db.session.rollback()
        return False


def _age(moment) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite keeps no zone: Pawtal stores UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0, int((utcnow() - moment).total_seconds()))


def _with_status(report: dict, status: str) -> dict:
    return {"status": status, **report}
