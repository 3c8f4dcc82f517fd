"""Realistic rows for a database at any revision, and row-by-row comparison across an upgrade.

The schema is read from the database itself (reflection), so a table or column added by a future
migration is filled and compared without anyone editing this file. Every table gets several rows,
every foreign key points at an existing parent (so every parent has children), nullable columns are
filled too (a SET NULL would show), and photos and documents get real files on disk.
"""
from __future__ import annotations

import io
import json
import os
import secrets
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from PIL import Image

ROWS = 4
DAY = date(2026, 11, 2)
MOMENT = datetime(2026, 11, 2, 13, 0, tzinfo=timezone.utc)

# Values the app reads with meaning; any other column gets a generic value of its type.
JSON_VALUES = {
    "fields": lambda i: [{"key": "notes", "label": "Anything we should know?", "type": "text", "required": False,
                          "choices": []}],
    "answers": lambda i: {"notes": f"Answer {i}"},
    "recipients": lambda i: [f"to{i}@example.com"],
    "secrets": lambda i: {},
    "client_field_rules": lambda i: {},
    "pet_field_rules": lambda i: {},
}
NAMED_VALUES = {
    "first_name": lambda i: ["Ada", "Bruno", "Chidi", "Dana", "Emeka", "Fay"][i % 6],
    "last_name": lambda i: f"Upgrade{i}",
    "name": lambda i: f"Name{i}",
    "species": lambda i: ["Dog", "Cat"][i % 2],
    "window": lambda i: ["morning", "midday", "evening", "custom"][i % 4],
    "state": lambda i: "MA",
    "zip": lambda i: f"9990{i}",  # unique (territory_zip), and no demo zip
    "last4": lambda i: f"{4242 + i}",
    "kind": lambda i: "card",
    "brand": lambda i: "visa",
    "cancelled_by": lambda i: ["", "client", "staff"][i % 3],
    "ip_address": lambda i: f"203.0.113.{i + 1}",
    "born_year": lambda i: 2016 + i,
    "born_month": lambda i: i % 12 + 1,
    "born_day": lambda i: i + 1,
    "exp_month": lambda i: i % 12 + 1,
    "exp_year": lambda i: 2030 + i,
    "duration_minutes": lambda i: 30,
    "version": lambda i: 1,
    "policy_version": lambda i: 1,
    "number": lambda i: 9001 + i,  # unique (invoice), above the demo's numbers
    "cancellation_hours": lambda i: 24,
    "session_token": lambda i: secrets.token_urlsafe(16),
    "calendar_token": lambda i: secrets.token_urlsafe(32),
    "width": lambda i: 64,
    "height": lambda i: 48,
}


def enum_values(head: sa.MetaData) -> dict[tuple[str, str], list[str]]:
    """The allowed values of every enum column, as today's models declare them."""
    found = {}
    for table in head.tables.values():
        for column in table.columns:
            if isinstance(column.type, sa.Enum):
                found[(table.name, column.name)] = list(column.type.enums)
    return found


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 60)).save(out, "JPEG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Filler:
    """Inserts ROWS rows into every table of a database, parents first."""

    def __init__(self, connection: sa.Connection, head: sa.MetaData, upload_folder: str, password_hash: str):
        self.connection = connection
        self.enums = enum_values(head)
        self.upload_folder = upload_folder
        self.password_hash = password_hash
        self.ids: dict[str, list] = {}
        self.files: list[str] = []

    def fill(self) -> None:
        metadata = sa.MetaData()
        metadata.reflect(self.connection)
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            self.ids[table.name] = []
            serial = self._serial(table)
            # Explicit ids after any row a migration made (0007 creates the settings row).
            start = self.connection.scalar(sa.select(sa.func.max(serial))) or 0 if serial is not None else 0
            for i in range(ROWS):
                values = {c.name: self.value(table, c, i) for c in table.columns if c is not serial}
                if serial is not None:
                    values[serial.name] = start + i + 1
                self.connection.execute(table.insert().values(values))
                self.ids[table.name].append(values[serial.name] if serial is not None else None)
            if serial is not None and self.connection.dialect.name == "postgresql":
                self.connection.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                                                f"'{serial.name}'), {start + ROWS})"))

    @staticmethod
    def _serial(table: sa.Table) -> sa.Column | None:
        """The table's own integer id, if it has one (not an association table's key)."""
        keys = list(table.primary_key.columns)
        if len(keys) == 1 and isinstance(keys[0].type, sa.Integer) and not keys[0].foreign_keys:
            return keys[0]
        return None

    def value(self, table: sa.Table, column: sa.Column, i: int):
        name = column.name
        if column.foreign_keys:
            parent = next(iter(column.foreign_keys)).column.table.name
            choices = self.ids[parent]
            if parent == table.name:  # a row pointing at another of its table (a reversal): the one before it
                return choices[-1] if choices else None
            return choices[i % len(choices)]
        if (table.name, name) in self.enums:
            choices = self.enums[(table.name, name)]
            return choices[i % len(choices)]
        if name == "stored_name":
            return self._file(table.name, i)
        if name == "content_type":
            return "application/pdf"
        if name == "size" and table.name == "document":
            return len(PDF)
        if name == "password_hash":
            return self.password_hash
        if "email" in name and isinstance(column.type, sa.String):
            return f"{table.name.replace('_', '.')}{i}@example.com"
        if "phone" in name and name != "phone_digits":
            return f"(555) 010-{1000 + i}"
        if name in NAMED_VALUES and not isinstance(column.type, (sa.JSON, sa.Boolean)):
            return NAMED_VALUES[name](i)
        return self.generic(table, column, i)

    def generic(self, table: sa.Table, column: sa.Column, i: int):
        kind = column.type
        if isinstance(kind, sa.JSON):
            return JSON_VALUES.get(column.name, lambda _: {"n": i})(i)
        if isinstance(kind, sa.Boolean):
            return i % 2 == 0
        if isinstance(kind, sa.DateTime):
            return MOMENT + timedelta(days=i, minutes=30 if column.name.startswith("end") else 0)
        if isinstance(kind, sa.Date):
            return DAY + timedelta(days=i)
        if isinstance(kind, sa.Numeric) and not isinstance(kind, (sa.Integer, sa.Float)):
            return Decimal("12.50") + i
        if isinstance(kind, sa.Integer):
            return 1000 * (i + 1) if column.name.endswith("cents") else i + 1
        if isinstance(kind, sa.Float):
            return 1.5 + i
        length = getattr(kind, "length", None) or 200
        return f"{i}-{table.name}.{column.name} text"[:length]

    def _file(self, table: str, i: int) -> str:
        """A real file for a stored upload: a JPEG for photos, a PDF for documents."""
        folder = "photos" if table == "photo" else "documents"
        name = secrets.token_hex(16) + (".jpg" if table == "photo" else ".pdf")
        path = os.path.join(self.upload_folder, folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(_jpeg() if table == "photo" else PDF)
        self.files.append(path)
        return name


def _normal(value):
    """One spelling per value across drivers: SQLite hands back naive UTC datetimes and 0/1."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, (date, time, bool, int, float, str)) or value is None:
        return value
    return str(value)


def snapshot(connection: sa.Connection) -> dict[str, dict[tuple, dict]]:
    """Every row of every table, keyed by primary key (by the whole row for a table without one)."""
    metadata = sa.MetaData()
    metadata.reflect(connection)
    tables = {}
    for table in metadata.sorted_tables:
        key_columns = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
        rows = {}
        for row in connection.execute(sa.select(table)).mappings():
            values = {name: _normal(value) for name, value in row.items()}
            rows[tuple(values[k] for k in key_columns)] = values
        tables[table.name] = rows
    return tables


def _past_visit_named(old: dict, new: dict) -> bool:
    """0010: a scheduled visit whose time had passed, never checked in, is "completed, not checked in"."""
    return (old["status"] == "scheduled" and new["status"] == "done_unrecorded"
            and old["ends_at"] <= datetime.now(timezone.utc))


# Changes a migration makes on purpose, and only in the rows it means: (table, column) -> test of old and new row.
INTENDED = {("visit", "status"): _past_visit_named}


def differences(before: dict, after: dict, ignore: frozenset = frozenset({"alembic_version"})) -> list[str]:
    """What an upgrade lost or changed: missing tables, missing rows, changed values of kept columns
    (other than the changes in INTENDED)."""
    found = []
    for table, rows in before.items():
        if table in ignore:
            continue
        if table not in after:
            found.append(f"{table}: table gone ({len(rows)} rows)")
            continue
        missing = [key for key in rows if key not in after[table]]
        if missing:
            found.append(f"{table}: {len(missing)} of {len(rows)} rows missing")
        changed: dict[str, int] = {}
        for key, values in rows.items():
            kept = after[table].get(key)
            if kept is None:
                continue
            for column, value in values.items():
                if column in kept and kept[column] != value and not INTENDED.get((table, column),
                                                                                 lambda *_: False)(values, kept):
                    changed[column] = changed.get(column, 0) + 1
        found += [f"{table}.{column}: {n} values changed" for column, n in sorted(changed.items())]
    return found
