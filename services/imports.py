"""Import clients and pets from CSV or XLSX: parse, preview with per-row errors, then import in one transaction."""
from __future__ import annotations

import csv
import io
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from extensions import db
from models import REQUIRED, ClientEmail, ClientProfile, ClientStatus, Pet, tidy_species
from services import signals
from services.accounts import clean_email
from services.clients import digits, territory_for_zip
from services.errors import DomainError
from services.pets import check_born
from services.settings import CLIENT_FIELDS, PET_FIELDS, rules_for

CLIENT_COLUMNS = ["first_name", "last_name", "email", "other_email", "mobile_phone", "home_phone", "work_phone",
                  "address_line1", "address_line2", "city", "state", "zip", "status", "uses_keys", "key_notes",
                  "emergency_name", "emergency_phone", "staff_notes"]
PET_COLUMNS = ["client_email", "name", "species", "breed", "sex", "colour", "weight", "born", "description",
               "care_notes", "feeding", "medications"]
COLUMNS = {"clients": CLIENT_COLUMNS, "pets": PET_COLUMNS}
EXAMPLES = {
    "clients": ["Jane", "Doe", "jane@example.com", "", "(555) 010-1234", "", "", "12 Elm St", "", "Cambridge", "MA",
                "02139", "active", "yes", "Lockbox code by phone", "John Doe", "(555) 010-9999", ""],
    "pets": ["jane@example.com", "Biscuit", "Dog", "Beagle", "Female (spayed)", "Tan", "24", "2019-06", "", "",
             "One cup twice a day", ""],
}
MAX_ROWS = 20_000


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class Preview:
    kind: str
    total: int = 0
    valid: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors})


def _folder() -> str:
    path = os.path.join(current_app.instance_path, "imports")
    os.makedirs(path, exist_ok=True)
    return path


def save_upload(upload) -> str:
    """Keep an uploaded spreadsheet privately until it is confirmed; returns its token."""
    name = (upload.filename or "").lower()
    ext = "xlsx" if name.endswith(".xlsx") else "csv" if name.endswith(".csv") else None
    if ext is None:
        raise DomainError(_("Upload a .csv or .xlsx file."), "file")
    token = f"{secrets.token_hex(16)}.{ext}"
    upload.save(os.path.join(_folder(), token))
    return token


def upload_path(token: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{32}\.(csv|xlsx)", token or ""):
        raise DomainError(_("That import has expired; upload the file again."), "file")
    path = os.path.join(_folder(), token)
    if not os.path.exists(path):
        raise DomainError(_("That import has expired; upload the file again."), "file")
    return path


def preview_upload(kind: str, upload) -> tuple[str, "Preview"]:
    """Keep an uploaded file until it is confirmed, and preview it; a file that cannot be read is not kept."""
    token = save_upload(upload)
    try:
        return token, preview(kind, upload_path(token))
    except DomainError:
        discard_upload(token)
        raise


def discard_upload(token: str) -> None:
    try:
        os.remove(upload_path(token))
    except (DomainError, OSError):
        pass


def read_rows(path: str) -> tuple[list[str], list[list[str]]]:
    """Header names (lower-cased, spaces to underscores) and the data rows as strings."""
    try:
        if path.endswith(".xlsx"):
            book = load_workbook(path, read_only=True, data_only=True)
            sheet = book.worksheets[0]
            raw = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            book.close()
        else:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                raw = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error):
        raise DomainError(_("The file could not be read as UTF-8 CSV."), "file") from None
    except Exception:  # openpyxl raises many kinds for a corrupt workbook
        raise DomainError(_("The file could not be read as a spreadsheet."), "file") from None
    raw = [r for r in raw if any(c.strip() for c in r)]
    if not raw:
        raise DomainError(_("The file is empty."), "file")
    if len(raw) - 1 > MAX_ROWS:
        raise DomainError(ngettext("Import at most %(count)s row at a time.", "Import at most %(count)s rows at a time.",
                                   MAX_ROWS, count=format_number(MAX_ROWS)), "file")
    headers = [re.sub(r"\s+", "_", h.strip().lower()) for h in raw[0]]
    return headers, raw[1:]


def preview(kind: str, path: str) -> Preview:
    headers, rows = read_rows(path)
    missing = [c for c in ("first_name", "last_name") if kind == "clients" and c not in headers]
    missing += [c for c in ("client_email", "name", "species") if kind == "pets" and c not in headers]
    if missing:
        raise DomainError(_("The file has no column %(columns)s. Download the template to see the columns.",
                            columns=", ".join(missing)), "file")
    records = [{h: (r[i].strip() if i < len(r) else "") for i, h in enumerate(headers) if h in COLUMNS[kind]}
               for r in rows]
    return _preview_clients(records) if kind == "clients" else _preview_pets(records)


def _required_columns(kind: str) -> dict[str, str]:
    """Import columns that the site's field rules make required: {column: label}."""
    if kind == "clients":
        rules, fields = rules_for("client"), CLIENT_FIELDS
        columns = {"email": "email", "mobile_phone": "mobile_phone", "home_phone": "home_phone",
                   "work_phone": "work_phone", "address": "address_line1", "emergency_contact": "emergency_name"}
    else:
        rules, fields = rules_for("pet"), PET_FIELDS
        columns = {k: k for k in ("breed", "sex", "colour", "weight", "born", "description", "care_notes", "feeding",
                                  "medications")}
    return {columns[k]: fields[k][0] for k, rule in rules.items() if rule == REQUIRED and k in columns}


def _missing(rec: dict, number: int, always: tuple[str, ...], required: dict[str, str]) -> list[RowError]:
    """Errors for empty cells in always-required columns and in columns the field rules require."""
    errors = [RowError(number, column, _("Required.")) for column in always if not rec.get(column)]
    errors += [RowError(number, column, _("%(label)s is required by the site's field rules.", label=label))
               for column, label in required.items() if not rec.get(column)]
    return errors


def _preview_clients(records: list[dict]) -> Preview:
    result = Preview("clients", total=len(records))
    required = _required_columns("clients")
    emails_in_file: dict[str, int] = {}
    candidates = []
    for number, rec in enumerate(records, start=2):  # row 1 is the header
        errors = _missing(rec, number, ("first_name", "last_name"), required)
        addresses = []
        for column in ("email", "other_email"):
            value = rec.get(column, "").lower()
            if not value:
                continue
            try:
                clean_email(value)
            except DomainError as error:
                errors.append(RowError(number, column, error.message))
                continue
            if value in emails_in_file:
                errors.append(RowError(number, column, _("Same email as row %(row)d.", row=emails_in_file[value])))
            else:
                emails_in_file[value] = number
                addresses.append(value)
        status = (rec.get("status") or "prospect").lower()
        if status not in {s.value for s in ClientStatus}:
            errors.append(RowError(number, "status", _("Use prospect, active or inactive.")))
        keys = (rec.get("uses_keys") or "no").lower()
        if keys not in {"yes", "no", "y", "n", "true", "false", "1", "0"}:
            errors.append(RowError(number, "uses_keys", _("Use yes or no.")))
        for column in CLIENT_COLUMNS:
            limit = 5000 if column in ("key_notes", "staff_notes") else 200
            if len(rec.get(column, "")) > limit:
                errors.append(RowError(number, column, ngettext("Longer than %(num)d character.",
                                                                "Longer than %(num)d characters.", limit)))
        if errors:
            result.errors.extend(errors)
            continue
        rec = dict(rec, status=status, uses_keys=keys in {"yes", "y", "true", "1"}, addresses=addresses,
                   row=number)
        candidates.append(rec)
    existing = _existing_emails([a for rec in candidates for a in rec["addresses"]])
    for rec in candidates:
        taken = [a for a in rec["addresses"] if a in existing]
        if taken:
            result.duplicates.append((rec["row"], taken[0]))
        else:
            result.valid.append(rec)
    return result


def _existing_emails(addresses: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(addresses), 500):  # keep the IN list a sane size
        chunk = addresses[start:start + 500]
        found.update(db.session.scalars(select(ClientEmail.email).where(ClientEmail.email.in_(chunk))))
    return found


def _parse_born(text: str) -> tuple[int | None, int | None, int | None]:
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", text)
    if not match:
        raise ValueError
    return tuple(int(g) if g else None for g in match.groups())


def _preview_pets(records: list[dict]) -> Preview:
    result = Preview("pets", total=len(records))
    required = _required_columns("pets")
    owners = _owners_by_email({rec.get("client_email", "").lower() for rec in records if rec.get("client_email")})
    today = date.today()
    for number, rec in enumerate(records, start=2):
        owner = owners.get(rec.get("client_email", "").lower())
        errors = [] if owner else [RowError(number, "client_email", _("No client has this email."))]
        errors += _missing(rec, number, ("name", "species"), required)
        born = (None, None, None)
        if rec.get("born"):
            try:
                born = _parse_born(rec["born"])
                problem = check_born(*born, today)
            except ValueError:
                problem = _("Use YYYY, YYYY-MM or YYYY-MM-DD.")
            if problem:
                errors.append(RowError(number, "born", problem))
        weight = None
        if rec.get("weight"):
            try:
                weight = Decimal(rec["weight"])
                if not 0 < weight <= 500:
                    raise InvalidOperation
            except InvalidOperation:
                errors.append(RowError(number, "weight", _("Enter a number between 0 and 500.")))
        if errors:
            result.errors.extend(errors)
            continue
        result.valid.append(dict(rec, client_id=owner, born=born, weight=weight, row=number))
    return result


def _owners_by_email(addresses: set[str]) -> dict[str, int]:
    owners: dict[str, int] = {}
    listed = sorted(addresses)
    for start in range(0, len(listed), 500):
        rows = db.session.execute(select(ClientEmail.email, ClientEmail.client_id)
                                  .where(ClientEmail.email.in_(listed[start:start + 500])))
        owners.update({email: client_id for email, client_id in rows})
    return owners


def run_import(kind: str, path: str) -> Preview:
    """Import every valid row in one transaction; rows with errors and duplicates are left out."""
    result = preview(kind, path)
    created: list[ClientProfile] = []
    if kind == "clients":
        zips = {rec["zip"].upper() for rec in result.valid if rec.get("zip")}
        territories = {z: territory_for_zip(z) for z in zips}
        for rec in result.valid:
            phones = [rec.get(c, "") for c in ("mobile_phone", "home_phone", "work_phone")]
            client = ClientProfile(
                first_name=rec["first_name"], last_name=rec["last_name"], status=ClientStatus(rec["status"]),
                mobile_phone=phones[0], home_phone=phones[1], work_phone=phones[2],
                phone_digits=" ".join(digits(p) for p in phones if p),
                address_line1=rec.get("address_line1", ""), address_line2=rec.get("address_line2", ""),
                city=rec.get("city", ""), state=rec.get("state", ""), zip=rec.get("zip", ""),
                territory_id=territories.get(rec.get("zip", "").upper()), uses_keys=rec["uses_keys"],
                key_notes=rec.get("key_notes", ""), emergency_name=rec.get("emergency_name", ""),
                emergency_phone=rec.get("emergency_phone", ""), staff_notes=rec.get("staff_notes", ""),
            )
            client.emails = [ClientEmail(email=a, is_primary=(i == 0)) for i, a in enumerate(rec["addresses"])]
            client.pets = []
            client.refresh_search_text()
            db.session.add(client)
            created.append(client)
    else:
        for rec in result.valid:
            year, month, day = rec["born"]
            db.session.add(Pet(
                client_id=rec["client_id"], name=rec["name"], species=tidy_species(rec["species"]), breed=rec.get("breed", ""),
                sex=rec.get("sex", ""), colour=rec.get("colour", ""), weight=rec["weight"], born_year=year,
                born_month=month, born_day=day, description=rec.get("description", ""),
                care_notes=rec.get("care_notes", ""), feeding=rec.get("feeding", ""),
                medications=rec.get("medications", ""),
            ))
        db.session.flush()
        owners = db.session.scalars(
            select(ClientProfile).where(ClientProfile.id.in_({rec["client_id"] for rec in result.valid}))
            .options(selectinload(ClientProfile.emails), selectinload(ClientProfile.pets))
        )
        for owner in owners:
            owner.refresh_search_text()
    db.session.flush()
    # Imported clients and pet owners: whether they have finished getting started.
    touched = [c.id for c in created] if kind == "clients" else [rec["client_id"] for rec in result.valid]
    signals.clients_imported.send(touched)
    return result


def template_file(kind: str, fmt: str) -> bytes:
    """A template with the column names and one example row."""
    if fmt == "xlsx":
        book = Workbook()
        sheet = book.active
        sheet.title = kind
        sheet.append(COLUMNS[kind])
        sheet.append(EXAMPLES[kind])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS[kind])
    writer.writerow(EXAMPLES[kind])
    return out.getvalue().encode("utf-8")

