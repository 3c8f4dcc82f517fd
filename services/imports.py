"""Import clients and their pets from the spreadsheet a business already has (CSV or XLSX).

The file is read as it comes: its encoding detected (UTF-8 with or without BOM, cp1252, Latin-1), its
delimiter sniffed (comma, semicolon, tab), Excel's own dates and numbers kept. Every column is mapped to a
Pawtal field (guessed from its name and the last import's mapping, changed by staff), or is explicitly not
imported, or kept as a note on the profile: nothing is dropped without being shown. A preview lists every
row's problems and what happens to every column; the import then runs in one transaction.
"""
from __future__ import annotations

import csv
import io
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import InvalidOperation

from babel.dates import parse_date
from babel.numbers import NumberFormatError, parse_decimal
from charset_normalizer import from_bytes
from flask import current_app
from flask_babel import format_number, get_locale
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from extensions import db
from filters import ngettext
from filters import gettext as _
from filters import lazy_gettext as _l
from models import REQUIRED, ClientEmail, ClientProfile, ClientStatus, Pet, tidy_species
from services import signals
from services.accounts import clean_email
from services.clients import digits, territory_for_zip
from services.errors import DomainError
from services.pets import check_born
from services.settings import CLIENT_FIELDS, PET_FIELDS, get_settings, rules_for
from services.uploads import clean_filename

MAX_ROWS = 20_000
MAX_BYTES = 15 * 1024 * 1024
SKIP, NOTE = "", "note"  # a column not imported; a column kept as a note on the client's profile
SKIP_MATCHES, UPDATE_MATCHES = "skip", "update"


@dataclass(frozen=True)
class Target:
    """A Pawtal field a column can go to: for the client, or for a pet of theirs."""

    key: str
    label: object
    pet: bool
    synonyms: tuple[str, ...] = ()


FIELDS = [
    Target("first_name", _l("First name"), False, ("first", "given name", "forename", "owner first name", "owner first",
                                                      "client first name", "customer first name", "first name owner")),
    Target("last_name", _l("Last name"), False, ("last", "surname", "family name", "owner last name", "owner last",
                                                    "client last name", "customer last name", "last name owner")),
    Target("full_name", _l("Full name (split into first and last)"), False,
          ("name", "client", "client name", "owner", "owner name", "customer", "customer name", "contact",
           "contact name", "household")),
    Target("email", _l("Email"), False, ("e-mail", "email address", "e-mail address", "mail", "primary email",
                                        "owner email", "client email", "customer email")),
    Target("other_email", _l("Other email"), False, ("second email", "secondary email", "email 2", "alternate email",
                                                    "partner email")),
    Target("mobile_phone", _l("Mobile phone"), False, ("mobile", "cell", "cell phone", "cellphone", "mobile number",
                                                      "phone", "phone number", "telephone", "tel", "primary phone")),
    Target("home_phone", _l("Home phone"), False, ("home", "home number", "landline")),
    Target("work_phone", _l("Work phone"), False, ("work", "office phone", "business phone", "work number")),
    Target("address_line1", _l("Street address"), False, ("street", "street address", "address", "address 1",
                                                         "address line 1", "addr1", "street 1", "home address")),
    Target("address_line2", _l("Apartment, unit"), False, ("address 2", "address line 2", "apt", "apartment", "unit",
                                                          "suite", "street 2", "addr2")),
    Target("city", _l("City"), False, ("town", "locality", "city town")),
    Target("state", _l("State"), False, ("province", "region", "state province")),
    Target("zip", _l("Zip code"), False, ("zip code", "zipcode", "postal code", "postcode", "post code", "postal",
                                         "zip postal code")),
    Target("status", _l("Status (prospect, active, inactive)"), False, ("client status",)),
    Target("uses_keys", _l("Uses keys (yes or no)"), False, ("keys", "key", "has key")),
    Target("key_notes", _l("Key notes"), False, ("key info", "lockbox", "entry notes", "access notes")),
    Target("emergency_name", _l("Emergency contact name"), False, ("emergency contact", "emergency name")),
    Target("emergency_phone", _l("Emergency contact phone"), False, ("emergency phone", "emergency number")),
    Target("staff_notes", _l("Staff-only notes"), False, ("notes", "staff notes", "internal notes", "comments")),
    Target("pet_name", _l("Pet: name"), True, ("pet", "pets name", "pet s name", "animal", "animal name", "dog", "dogs name", "cats name", "pets names",
                                              "dog name", "cat name")),
    Target("species", _l("Pet: species"), True, ("type", "animal type", "pet type", "kind")),
    Target("breed", _l("Pet: breed"), True, ("pet breed",)),
    Target("sex", _l("Pet: sex"), True, ("gender", "pet sex", "pet gender")),
    Target("colour", _l("Pet: colour"), True, ("color", "coat", "markings", "pet color", "pet colour")),
    Target("weight", _l("Pet: weight (lb)"), True, ("weight lb", "weight lbs", "lbs", "pet weight")),
    Target("born", _l("Pet: born (date or year)"), True, ("birthday", "birth date", "birthdate", "date of birth",
                                                         "dob", "born on", "year born")),
    Target("description", _l("Pet: description"), True, ("pet description", "about the pet")),
    Target("care_notes", _l("Pet: care notes"), True, ("care", "special instructions", "instructions", "pet notes")),
    Target("feeding", _l("Pet: feeding"), True, ("food", "diet", "feeding instructions", "meals")),
    Target("medications", _l("Pet: medications"), True, ("medication", "meds", "medicine", "medical")),
]
BY_KEY = {f.key: f for f in FIELDS}
CLIENT_KEYS = [f.key for f in FIELDS if not f.pet]
PET_KEYS = [f.key for f in FIELDS if f.pet]
NAME_KEYS = ("first_name", "last_name", "full_name")
LIMITS = {"key_notes": 2000, "staff_notes": 5000, "description": 2000, "care_notes": 5000, "feeding": 2000,
          "medications": 2000}
TEMPLATE = ["First name", "Last name", "Email", "Mobile phone", "Street address", "City", "State", "Zip code",
            "Status", "Uses keys", "Key notes", "Emergency contact name", "Emergency contact phone", "Pet name",
            "Species", "Breed", "Sex", "Colour", "Weight", "Born", "Feeding", "Medications"]
EXAMPLE = ["Jane", "Doe", "jane@example.com", "(555) 010-1234", "12 Elm St", "Cambridge", "MA", "02139", "active",
           "yes", "Lockbox code by phone", "John Doe", "(555) 010-9999", "Biscuit", "Dog", "Beagle",
           "Female (spayed)", "Tan", "24", "2019-06", "One cup twice a day", ""]


def normal(header: str) -> str:
    """A header as its letters and digits: "E-mail Address" and "email_address" are both "emailaddress"."""
    return re.sub(r"[^0-9a-z]", "", (header or "").lower())


_SYNONYMS = {normal(word): f.key for f in FIELDS for word in (f.key.replace("_", " "), str(f.label), *f.synonyms)}


@dataclass
class Table:
    """A file's first row (the headers) and the rows below it, every cell as text."""

    headers: list[str]
    rows: list[list[str]]
    sheets: list[str] = field(default_factory=list)
    sheet: str = ""


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class Column:
    """One column of the file: its header, a few of its values, where it goes, and in words what happens."""

    index: int
    header: str
    samples: list[str]
    target: str

    @property
    def name(self) -> str:
        return self.header or _("Column %(number)d", number=self.index + 1)

    @property
    def outcome(self) -> str:
        if self.target == NOTE:
            return _("Kept as a note on the client's profile")
        if self.target == SKIP:
            return _("Not imported")
        return _("Imported as %(field)s", field=BY_KEY[self.target].label)


@dataclass
class Preview:
    """What an import would do, row by row and column by column."""

    columns: list[Column]
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    new_clients: list[dict] = field(default_factory=list)
    matched_clients: list[dict] = field(default_factory=list)
    pets_only: bool = False
    left_to_fill: dict[str, int] = field(default_factory=dict)  # {"Emergency contact": clients without one}
    pets_left_to_fill: dict[str, int] = field(default_factory=dict)  # {"Breed": pets without one}

    @property
    def matched_names(self) -> list[str]:
        return [_full_name(g["client"]) or g["client"]["addresses"][0] for g in self.matched_clients]

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors})

    def clients_to_write(self, on_match: str) -> list[dict]:
        """New clients, and those on file when updating them (a pets-only file always adds to them)."""
        return self.new_clients + (self.matched_clients if on_match == UPDATE_MATCHES or self.pets_only else [])

    def pets_to_write(self, on_match: str) -> int:
        return sum(len(g["pets"]) for g in self.clients_to_write(on_match))


def _folder() -> str:
    path = os.path.join(current_app.instance_path, "imports")
    os.makedirs(path, exist_ok=True)
    return path


def save_upload(upload) -> str:
    """Keep an uploaded spreadsheet privately until it is imported; returns its token."""
    name = clean_filename(upload.filename).lower()
    ext = "xlsx" if name.endswith(".xlsx") else "csv" if name.endswith((".csv", ".txt", ".tsv")) else None
    if ext is None:
        raise DomainError(_("Upload a .csv or .xlsx file (Excel can save either)."), "file")
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise DomainError(_("The file is larger than 15 MB: split it into smaller files."), "file")
    _prune_uploads()
    token = f"{secrets.token_hex(16)}.{ext}"
    with open(os.path.join(_folder(), token), "wb") as out:
        out.write(data)
    return token


def _prune_uploads(max_age: float = 2 * 24 * 3600) -> None:
    """Files of imports started and left more than two days ago are deleted: they hold clients' details."""
    folder = _folder()
    now = time.time()
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        try:
            if now - os.path.getmtime(path) > max_age:
                os.remove(path)
        except OSError:
            pass


class UploadGone(DomainError):
    """The upload was imported already, abandoned and deleted, or never existed."""


def upload_path(token: str) -> str:
    path = os.path.join(_folder(), token)
    if not re.fullmatch(r"[0-9a-f]{32}\.(csv|xlsx)", token or "") or not os.path.exists(path):
        raise UploadGone(_("That import is finished or has expired: upload the file again."), "file")
    return path


def discard_upload(token: str) -> None:
    try:
        os.remove(upload_path(token))
    except (DomainError, OSError):
        pass


def read_table(path: str, sheet: str | None = None) -> Table:
    """The file as a table of text, whatever its encoding, delimiter or Excel cell types."""
    if path.endswith(".xlsx"):
        table = _read_workbook(path, sheet)
    else:
        with open(path, "rb") as handle:
            table = Table(*_read_csv(handle.read()))
    table.rows = [r for r in table.rows if any(c.strip() for c in r)]
    # Cells beyond the last named column are a column too (with no name), never dropped unseen.
    width = max([len(table.headers)] + [max((i + 1 for i, c in enumerate(r) if c.strip()), default=0)
                                        for r in table.rows])
    table.headers += [""] * (width - len(table.headers))
    if not table.headers or not any(h.strip() for h in table.headers):
        raise DomainError(_("The file is empty, or its first row has no column names."), "file")
    if len(table.rows) > MAX_ROWS:
        raise DomainError(ngettext("Import at most %(count)s row at a time.", "Import at most %(count)s rows at a time.",
                                   MAX_ROWS, count=format_number(MAX_ROWS)), "file")
    return table


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) when it is valid, else what charset-normalizer finds (cp1252, Latin-1...)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:200_000], cp_isolation=["cp1252", "latin_1", "mac_roman", "cp850"]).best()
    return data.decode(best.encoding if best else "cp1252", errors="replace")


def _read_csv(data: bytes) -> tuple[list[str], list[list[str]]]:
    text = _decode(data)
    sample = "\n".join(text.splitlines()[:50])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:  # one column, or a sample too odd to sniff: count the candidates in the header
        first = text.splitlines()[0] if text else ""
        delimiter = max(",;\t|", key=first.count)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        raise DomainError(_("The file could not be read as a spreadsheet."), "file") from None
    if not rows:
        raise DomainError(_("The file is empty."), "file")
    return [h.strip() for h in rows[0]], rows[1:]


def _read_workbook(path: str, sheet: str | None) -> Table:
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not a workbook
        raise DomainError(_("The file could not be read as an Excel workbook (.xlsx)."), "file") from None
    try:
        names = book.sheetnames
        chosen = sheet if sheet in names else names[0]
        cells = [[_cell(v) for v in row] for row in book[chosen].iter_rows(values_only=True)]
    finally:
        book.close()
    if not cells:
        raise DomainError(_("The sheet “%(sheet)s” is empty.", sheet=chosen), "file")
    return Table([h.strip() for h in cells[0]], cells[1:], names, chosen)


def _cell(value) -> str:
    """An Excel cell as text: a date as an ISO date, a whole number without ".0", text as it is."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def guess_mapping(headers: list[str], remembered: dict[str, str] | None = None) -> list[str]:
    """For each column, the field its name suggests: the last import's choice first, then the synonyms."""
    remembered = remembered or {}
    guesses = []
    for header in headers:
        key = normal(header)
        target = remembered.get(key, _SYNONYMS.get(key, SKIP))
        guesses.append(target if target in BY_KEY or target in (SKIP, NOTE) else SKIP)
    # A lone "Name" beside the owner's first and last names is the pet's name.
    if {"first_name", "last_name"} & set(guesses):
        guesses = ["pet_name" if g == "full_name" and normal(h) == "name" else g for g, h in zip(guesses, headers)]
    seen: set[str] = set()
    for i, target in enumerate(guesses):  # a field takes one column: the first that names it
        if target in BY_KEY:
            if target in seen:
                guesses[i] = SKIP
            seen.add(target)
    return guesses


def check_mapping(headers: list[str], mapping: list[str]) -> dict[int, str]:
    """Problems with a mapping, by column: a field chosen twice, or no way to tell whose row it is."""
    problems: dict[int, str] = {}
    first: dict[str, int] = {}
    for i, target in enumerate(mapping):
        if target in BY_KEY:
            if target in first:
                earlier = headers[first[target]] or _("Column %(number)d", number=first[target] + 1)
                problems[i] = _("“%(field)s” is already the column “%(header)s”: choose another field, or "
                                "Don't import.", field=BY_KEY[target].label, header=earlier)
            first.setdefault(target, i)
    chosen = set(mapping)
    if not chosen & {*NAME_KEYS, "email"}:
        problems[-1] = _("Choose the column with the client's name (or, for pets of clients already on file, "
                         "the owner's email).")
    elif not chosen & set(NAME_KEYS) and not chosen & set(PET_KEYS):
        problems[-1] = _("With no client names, the file can only add pets: choose the column with the pet's name.")
    return problems


def remembered_mapping() -> dict[str, str]:
    return dict(get_settings().import_mapping or {})


def columns_of(table: Table, mapping: list[str]) -> list[Column]:
    """Every column of the file with a few of its values and where `mapping` sends it."""
    targets = [t if t in BY_KEY or t == NOTE else SKIP for t in mapping] + [SKIP] * (len(table.headers) - len(mapping))
    return [Column(i, header, _samples(table.rows, i), targets[i]) for i, header in enumerate(table.headers)]


def preview(table: Table, mapping: list[str]) -> Preview:
    """What importing `table` with `mapping` would do: new and matching clients, their pets, every problem."""
    columns = columns_of(table, mapping)
    result = Preview(columns, rows=len(table.rows))
    by_field = {c.target: c for c in columns if c.target in BY_KEY}
    notes = [c for c in columns if c.target == NOTE]
    result.pets_only = not set(by_field) & set(NAME_KEYS)
    groups: dict[tuple, dict] = {}
    species_on_file = _species_on_file() if set(by_field) & set(PET_KEYS) else {}
    for number, row in enumerate(table.rows, start=2):  # row 1 is the header
        values = {key: _value(row, column.index) for key, column in by_field.items()}
        errors: list[RowError] = []
        client = _client_values(values, number, by_field, errors)
        pet = _pet_values(values, number, by_field, errors, species_on_file)
        if errors:
            result.errors.extend(errors)
            continue
        key = _group_key(client, result.pets_only)
        group = groups.get(key)
        if group is None:
            client["notes"] = [f"{c.name}: {_value(row, c.index)}" for c in notes if _value(row, c.index)]
            group = groups[key] = {"row": number, "client": client, "pets": []}
        elif _other_person(group["client"], client):
            result.errors.append(RowError(number, by_field["email"].name if "email" in by_field else "",
                                          _("Row %(row)d has this email for %(name)s: one email is one client.",
                                            row=group["row"], name=_full_name(group["client"]))))
            continue
        else:  # another row for the same household: it may add what the first row left empty, and a pet
            for name, value in client.items():
                if value and not group["client"].get(name):
                    group["client"][name] = value
        if pet and not any(p["name"].lower() == pet["name"].lower() for p in group["pets"]):
            group["pets"].append(pet)
    _match(list(groups.values()), result)
    _left_to_fill(result)
    return result


def _other_person(first: dict, other: dict) -> bool:
    """Two rows with one email but different owners' names (a typo, or a shared family address)."""
    return any(first.get(k) and other.get(k) and first[k].lower() != other[k].lower()
               for k in ("first_name", "last_name"))


def _full_name(client: dict) -> str:
    return " ".join(filter(None, (client.get("first_name"), client.get("last_name"))))


def _samples(rows: list[list[str]], index: int, count: int = 3) -> list[str]:
    found = []
    for row in rows:
        value = _value(row, index)
        if value and value not in found:
            found.append(value[:60])
            if len(found) == count:
                break
    return found


def _value(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) and row[index] else ""


def _client_values(values: dict, number: int, by_field: dict, errors: list[RowError]) -> dict:
    """A row's client fields, checked; problems go to `errors` under the column's own header."""
    def err(key: str, message: str) -> None:
        errors.append(RowError(number, by_field[key].name if key in by_field else BY_KEY[key].label, message))

    client = {k: values.get(k, "") for k in CLIENT_KEYS if k in values}
    full = client.pop("full_name", "")
    if full and not (client.get("first_name") or client.get("last_name")):  # "Mary Ann Smith": Mary Ann, Smith
        first, _sep, last = full.rpartition(" ")
        client["first_name"], client["last_name"] = (first, last) if first else (last, "")
    names_mapped = bool(set(by_field) & set(NAME_KEYS))
    if names_mapped:
        if not client.get("first_name"):
            err("full_name" if "full_name" in by_field else "first_name", _("The first name is missing."))
        if not client.get("last_name"):
            err("full_name" if "full_name" in by_field else "last_name", _("The last name is missing."))
    addresses = []
    for key in ("email", "other_email"):
        if client.get(key):
            try:
                addresses.append(clean_email(client[key]))
            except DomainError as error:
                err(key, error.message)
    client["addresses"] = addresses
    if not names_mapped and not addresses:
        err("email", _("The owner's email is missing: pets are added to the client with that email."))
    status = (client.get("status") or "").lower()
    if status and status not in {s.value for s in ClientStatus}:
        err("status", _("Use prospect, active or inactive."))
    client["status"] = status  # empty: a new client is a Prospect, a client on file keeps theirs
    keys = (client.get("uses_keys") or "").lower()
    if keys and keys not in {"yes", "no", "y", "n", "true", "false", "1", "0"}:
        err("uses_keys", _("Use yes or no."))
    client["uses_keys"] = keys in {"yes", "y", "true", "1"} if keys else None
    zip_code = client.get("zip", "")
    if zip_code.isdigit() and 3 <= len(zip_code) < 5:  # a US zip that lost its leading zeros as a number
        client["zip"] = zip_code.zfill(5)
    for key in client:
        limit = LIMITS.get(key, 200)
        if isinstance(client[key], str) and len(client[key]) > limit:
            err(key, ngettext("Longer than %(num)d character.", "Longer than %(num)d characters.", limit))
    return client


def _pet_values(values: dict, number: int, by_field: dict, errors: list[RowError],
                species_on_file: dict[str, str]) -> dict | None:
    """A row's pet, checked, or None when the row has no pet."""
    pet = {k: values.get(k, "") for k in PET_KEYS if k in values}
    if not any(pet.values()):
        return None

    def err(key: str, message: str) -> None:
        errors.append(RowError(number, by_field[key].name if key in by_field else BY_KEY[key].label, message))

    if not pet.get("pet_name"):
        err("pet_name", _("The pet's name is missing."))
    if not pet.get("species"):
        err("species", _("The pet's species is missing (for example Dog or Cat)."))
    born = (None, None, None)
    if pet.get("born"):
        try:
            born = _parse_born(pet["born"])
            problem = check_born(*born, date.today())
        except ValueError:
            problem = _("Use a date, or YYYY, or YYYY-MM.")
        if problem:
            err("born", problem)
    weight = None
    if pet.get("weight"):
        try:
            weight = parse_decimal(re.sub(r"\s*(lbs?|pounds?)\.?$", "", pet["weight"], flags=re.I), locale=get_locale(),
                                   strict=True)
            if not 0 < weight <= 500:
                raise InvalidOperation
        except (NumberFormatError, InvalidOperation):
            err("weight", _("Enter a number between 0 and 500."))
    for key, value in pet.items():
        if len(value) > LIMITS.get(key, 80):
            err(key, ngettext("Longer than %(num)d character.", "Longer than %(num)d characters.", LIMITS.get(key, 80)))
    species = pet.get("species", "")
    return {"name": pet.get("pet_name", ""), "species": species_on_file.get(species.lower(), tidy_species(species)),
            "born": born,
            "weight": weight, **{k: pet.get(k, "") for k in ("breed", "sex", "colour", "description", "care_notes",
                                                                 "feeding", "medications")}}


def _species_on_file() -> dict[str, str]:
    """The spelling each species has on file, by its lower case ("CAT" in an old export is the "Cat" on file)."""
    found = {"dog": _("Dog"), "cat": _("Cat")}
    found.update({s.lower(): s for s in db.session.scalars(select(Pet.species).distinct()) if s})
    return found


def _parse_born(text: str) -> tuple[int | None, int | None, int | None]:
    """ "2019", "2019-06", "2019-06-15", or a date as the locale writes it ("6/15/2019")."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", text)
    if match:
        return tuple(int(g) if g else None for g in match.groups())
    try:
        day = parse_date(text, locale=get_locale())
    except (ValueError, IndexError):
        raise ValueError(text) from None
    if day.year < 100:
        raise ValueError(text)
    return day.year, day.month, day.day


def _group_key(client: dict, pets_only: bool) -> tuple:
    """Rows of one household (one row per pet, owner columns repeated) share their owner's key."""
    if client["addresses"]:
        return ("email", client["addresses"][0])
    phone = next((digits(client.get(k, "")) for k in ("mobile_phone", "home_phone", "work_phone") if client.get(k)), "")
    return ("name", client.get("first_name", "").lower(), client.get("last_name", "").lower(), phone)


def _match(groups: list[dict], result: Preview) -> None:
    """Who is on file already: by email, then by name and phone. Pets-only files must match."""
    by_email = _clients_by_email({a for g in groups for a in g["client"]["addresses"]})
    by_name = {} if result.pets_only else _clients_by_name({g["client"].get("last_name", "").lower() for g in groups})
    for group in groups:
        client = group["client"]
        found = next((by_email[a] for a in client["addresses"] if a in by_email), None)
        if found is None and not result.pets_only:
            found = _client_by_name_and_phone(client, by_name)
        if found is None and result.pets_only:
            result.errors.append(RowError(group["row"], BY_KEY["email"].label, _("No client has this email.")))
            continue
        group["existing_id"] = found
        (result.matched_clients if found else result.new_clients).append(group)


def _clients_by_email(addresses: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    listed = sorted(addresses)
    for start in range(0, len(listed), 500):  # keep the IN list a sane size
        rows = db.session.execute(select(ClientEmail.email, ClientEmail.client_id)
                                  .where(ClientEmail.email.in_(listed[start:start + 500])))
        found.update({email: client_id for email, client_id in rows})
    return found


def _clients_by_name(last_names: set[str]) -> dict[tuple[str, str], list[tuple[int, set[str]]]]:
    """Clients on file with these last names: {(first, last) in lower case: [(id, their phones' digits)]}."""
    found: dict[tuple[str, str], list[tuple[int, set[str]]]] = {}
    listed = sorted(n for n in last_names if n)
    for start in range(0, len(listed), 500):
        rows = db.session.execute(
            select(ClientProfile.id, ClientProfile.first_name, ClientProfile.last_name, ClientProfile.phone_digits)
            .where(func.lower(ClientProfile.last_name).in_(listed[start:start + 500])))
        for client_id, first, last, phones in rows:
            found.setdefault((first.lower(), last.lower()), []).append((client_id, set((phones or "").split())))
    return found


def _client_by_name_and_phone(client: dict, by_name: dict) -> int | None:
    phones = {digits(client.get(k, "")) for k in ("mobile_phone", "home_phone", "work_phone") if client.get(k)}
    candidates = by_name.get((client.get("first_name", "").lower(), client.get("last_name", "").lower()), [])
    return next((client_id for client_id, on_file in candidates if phones & on_file), None)


def _left_to_fill(result: Preview) -> None:
    """Fields the site asks clients to fill at onboarding that the file leaves empty: listed, not refused.

    Counted over the new clients and over their pets.
    """
    client_values = {"email": lambda c: c["addresses"], "vet": lambda c: False,
                     "keys": lambda c: c.get("uses_keys") is not None,
                     "address": lambda c: all(c.get(k) for k in ("address_line1", "city", "zip")),
                     "emergency_contact": lambda c: c.get("emergency_name") and c.get("emergency_phone")}
    pet_values = {"born": lambda p: p["born"][0], "weight": lambda p: p["weight"] is not None,
                  "vaccinations": lambda p: False, "photo": lambda p: False}
    def count(left: dict[str, int], label: str) -> None:
        left[label] = left.get(label, 0) + 1

    client_rules = [k for k, rule in rules_for("client").items() if rule == REQUIRED]
    pet_rules = [k for k, rule in rules_for("pet").items() if rule == REQUIRED]
    for group in result.new_clients:
        for key in client_rules:
            filled = client_values.get(key, lambda c, key=key: c.get(key))
            if not filled(group["client"]):
                count(result.left_to_fill, str(CLIENT_FIELDS[key][0]))
        for pet in group["pets"]:
            for key in pet_rules:
                filled = pet_values.get(key, lambda p, key=key: p.get(key))
                if not filled(pet):
                    count(result.pets_left_to_fill, str(PET_FIELDS[key][0]))


def run_import(table: Table, mapping: list[str], on_match: str) -> Preview:
    """Import every valid row in one transaction (matches skipped or updated); remember the mapping."""
    if check_mapping(table.headers, mapping):
        raise DomainError(_("Choose where each column goes first."), "file")
    result = preview(table, mapping)
    territories: dict[str, int | None] = {}
    touched: list[ClientProfile] = []
    existing = {c.id: c for c in db.session.scalars(
        select(ClientProfile).where(ClientProfile.id.in_([g["existing_id"] for g in result.matched_clients]))
        .options(selectinload(ClientProfile.emails), selectinload(ClientProfile.pets)))}
    for group in result.clients_to_write(on_match):
        profile = existing.get(group.get("existing_id")) or _new_profile()
        _fill_profile(profile, group["client"], territories, updating=profile.id is not None)
        for pet in group["pets"]:
            _add_or_update_pet(profile, pet)
        profile.refresh_search_text()
        touched.append(profile)
    db.session.flush()
    _remember(table.headers, mapping)
    signals.clients_imported.send([p.id for p in touched])
    return result


def _new_profile() -> ClientProfile:
    profile = ClientProfile(status=ClientStatus.PROSPECT, staff_notes="")
    profile.emails, profile.pets = [], []
    db.session.add(profile)
    return profile


def _fill_profile(profile: ClientProfile, client: dict, territories: dict, updating: bool) -> None:
    """Write the row's values; when updating a client on file, only the cells the file fills."""
    for key in ("first_name", "last_name", "mobile_phone", "home_phone", "work_phone", "address_line1",
                "address_line2", "city", "state", "zip", "key_notes", "emergency_name", "emergency_phone"):
        value = client.get(key, "")
        if value or not updating:
            setattr(profile, key, value)
    if client.get("status") or not updating:
        profile.status = ClientStatus(client.get("status") or ClientStatus.PROSPECT.value)
    if client.get("uses_keys") is not None:
        profile.uses_keys = client["uses_keys"]
    notes = [client["staff_notes"]] if client.get("staff_notes") else []
    notes += client.get("notes", [])
    if notes:
        profile.staff_notes = "\n".join(filter(None, [profile.staff_notes, *notes]))[:5000]
    profile.phone_digits = " ".join(digits(p) for p in (profile.mobile_phone, profile.home_phone, profile.work_phone)
                                    if p)
    zip_code = (profile.zip or "").upper()
    if zip_code and not profile.territory_manual:
        if zip_code not in territories:
            territories[zip_code] = territory_for_zip(zip_code)
        profile.territory_id = territories[zip_code]
    on_file = {e.email for e in profile.emails}
    for address in client["addresses"]:
        if address not in on_file:
            profile.emails.append(ClientEmail(email=address, is_primary=not profile.emails))
            on_file.add(address)


def _add_or_update_pet(profile: ClientProfile, values: dict) -> None:
    pet = next((p for p in profile.pets if p.name.lower() == values["name"].lower()), None)
    if pet is None:
        pet = Pet(name=values["name"], species=values["species"])
        profile.pets.append(pet)
    year, month, day = values["born"]
    pet.species = values["species"] or pet.species
    for key in ("breed", "sex", "colour", "description", "care_notes", "feeding", "medications"):
        if values.get(key) or pet.id is None:
            setattr(pet, key, values.get(key, ""))
    if values["weight"] is not None:
        pet.weight = values["weight"]
    if year:
        pet.born_year, pet.born_month, pet.born_day = year, month, day


def _remember(headers: list[str], mapping: list[str]) -> None:
    """The next file with these column names starts from this mapping."""
    settings = get_settings()
    remembered = dict(settings.import_mapping or {})
    remembered.update({normal(h): target for h, target in zip(headers, mapping) if normal(h)})
    settings.import_mapping = dict(list(remembered.items())[-500:])


def template_file(fmt: str) -> bytes:
    """A template with friendly column names and one example row (one row per pet; owner columns repeated)."""
    if fmt == "xlsx":
        book = Workbook()
        sheet = book.active
        sheet.title = "Clients and pets"
        sheet.append(TEMPLATE)
        sheet.append(EXAMPLE)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TEMPLATE)
    writer.writerow(EXAMPLE)
    return out.getvalue().encode("utf-8")
