"""Copies of the database taken before risky operations (an upgrade) so they can be undone."""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone


def backup_sqlite(path: str, label: str) -> str:
    """Copy a SQLite database file with SQLite's online backup API; return the copy's path.

    The copy sits next to the file, named after it, the label and the UTC time, e.g.
    `pawtal.before-upgrade-from-0004.20261125T160000Z.sqlite`. The backup API reads a consistent
    snapshot even in WAL mode, which copying the file would not.
    """
    stem, extension = os.path.splitext(path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    destination = f"{stem}.{label}.{stamp}{extension or '.sqlite'}"
    source = sqlite3.connect(path)
    try:
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    return destination
