"""Spreadsheet import: files as they come (encodings, delimiters, Excel cells), column mapping with synonyms and
a remembered mapping, notes for extra columns, duplicates skipped or updated, field rules left to fill, pets in
the owners' file, per-row errors, one transaction. Every file is made in the test."""
import csv
import io
import re
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from extensions import db
from models import ClientEmail, ClientProfile, ClientStatus, Pet, Role
from services import imports
from services.settings import update_settings
from tests.conftest import HX, login_as

FOREIGN = ["First Name", "Last Name", "Email Address", "Mobile Phone", "Street Address", "City", "State", "Zip"]


def csv_bytes(rows: list[list], delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(*sheets: tuple[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, body: bytes, name="clients.csv", headers=None):
    return client.post("/imports/", data={"file": (io.BytesIO(body), name)}, content_type="multipart/form-data",
                       headers=headers or {})


def start(client, body: bytes, name="clients.csv") -> tuple[str, str]:
    """Upload a file; its token and the mapping page it leads to."""
    response = upload(client, body, name)
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    token = location.rsplit("/", 1)[1]
    return token, client.get(location).get_data(as_text=True)


def chosen(html: str) -> list[str]:
    """The field each column's select has chosen on the page, in column order."""
    selects = re.findall(r'<select id="col_(\d+)" name="col_\d+"[^>]*>(.*?)</select>', html, re.S)
    found = []
    for _index, options in sorted(selects, key=lambda s: int(s[0])):
        match = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', options)
        found.append(next(g for g in match.groups() if g is not None) if match else "")
    return found


def mapping_data(html: str, **changes) -> dict:
    """The form as the page shows it, with some columns changed: {"col_3": "note"}."""
    data = {f"col_{i}": value for i, value in enumerate(chosen(html))}
    data["sheet"] = re.search(r'id="sheet" name="sheet" type="hidden" value="([^"]*)"', html).group(1)
    data["on_match"] = "skip"
    data.update(changes)
    return data


def confirm(client, token: str, data: dict):
    return client.post(f"/imports/{token}/confirm", data=data)


def find(last_name: str) -> ClientProfile:
    db.session.expire_all()
    return db.session.scalar(select(ClientProfile).where(ClientProfile.last_name == last_name))


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def test_foreign_column_names_are_mapped_and_nothing_is_dropped(as_manager):
    """The issue's file: it used to import the client without her email and street, without a word."""
    body = csv_bytes([FOREIGN, ["Renée", "Ortiz", "renee@example.com", "(617) 555-0101", "12 Elm St", "Cambridge",
                                "MA", "02139"]])
    token, html = start(as_manager, body)
    assert chosen(html) == ["first_name", "last_name", "email", "mobile_phone", "address_line1", "city", "state", "zip"]
    assert "Imported as Email" in html and "Imported as Street address" in html and "Not imported" not in html
    assert "renee@example.com" in html  # the column's first values are shown
    assert count(ClientProfile) == 0  # nothing until confirmed

    response = confirm(as_manager, token, mapping_data(html))
    assert response.status_code == 303 and response.headers["Location"].endswith("/clients/")
    renee = find("Ortiz")
    assert (renee.first_name, renee.primary_emails, renee.address_line1, renee.city, renee.zip) == \
        ("Renée", ["renee@example.com"], "12 Elm St", "Cambridge", "02139")
    assert renee.mobile_phone == "(617) 555-0101" and renee.status == ClientStatus.PROSPECT
    assert as_manager.get(f"/clients/?q=Ortiz").get_data(as_text=True).count("renee@example.com") >= 1


def test_an_unmapped_column_is_shown_as_not_imported_or_kept_as_a_note(as_manager):
    body = csv_bytes([["Name", "Email", "Referral source", "Gate code"],
                      ["Mary Ann Smith", "mas@example.com", "Facebook", "4711#"],
                      ["Cher", "cher@example.com", "", "9"]])
    token, html = start(as_manager, body)
    assert chosen(html) == ["full_name", "email", "", ""]
    assert html.count("Not imported") == 2
    data = mapping_data(html, col_2="note", col_3="note")
    changed = as_manager.post(f"/imports/{token}/preview", data=data, headers=HX).get_data(as_text=True)
    assert changed.count("Kept as a note on the client") == 2 and "<html" not in changed
    # "Cher" alone has no last name: the row is shown and left out, not guessed.
    assert re.search(r"<td>3</td><td>Name</td><td>The last name is missing.</td>", changed)
    response = confirm(as_manager, token, data)
    assert response.status_code == 303
    mary = find("Smith")
    assert mary.first_name == "Mary Ann"  # a single name column is split at its last space
    assert mary.staff_notes.splitlines() == ["Referral source: Facebook", "Gate code: 4711#"]
    assert count(ClientProfile) == 1


def test_cells_beyond_the_named_columns_are_a_column_too(as_manager):
    body = b"First name,Last name,Email\nAnn,Archer,ann@example.com,Referred by Bo\n"
    token, html = start(as_manager, body)
    assert chosen(html) == ["first_name", "last_name", "email", ""]
    assert "Column 4 (no name)" in html and "Referred by Bo" in html
    confirm(as_manager, token, mapping_data(html, col_3="note"))
    assert find("Archer").staff_notes == "Column 4: Referred by Bo"


def test_a_cp1252_file_from_excel_on_windows(as_manager):
    body = csv_bytes([["First name", "Last name", "Email"], ["Renée", "Dubois", "renee@example.com"],
                      ["José", "Núñez", "jose@example.com"]], encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # the file really is not UTF-8
    token, html = start(as_manager, body)
    assert "Renée" in html and "Núñez" in html
    confirm(as_manager, token, mapping_data(html))
    assert find("Núñez").first_name == "José" and find("Dubois").first_name == "Renée"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "latin-1", "utf-8"])
def test_other_encodings_and_a_byte_order_mark(as_manager, encoding):
    body = csv_bytes([["First name", "Last name", "Email"], ["Zoë", "Brontë", "zoe@example.com"]], encoding=encoding)
    token, html = start(as_manager, body)
    assert chosen(html) == ["first_name", "last_name", "email"]  # the BOM is not part of the first header
    confirm(as_manager, token, mapping_data(html))
    assert find("Brontë").first_name == "Zoë"


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_the_delimiter_is_sniffed(as_manager, delimiter):
    body = csv_bytes([["Vorname", "Nachname", "E-Mail", "PLZ", "Notes"],
                      ["Jörg", "Müller", "joerg@example.com", "02139", "Walk at noon; back gate, not front"]],
                     delimiter=delimiter)
    token, html = start(as_manager, body)
    # German headers are not synonyms, so staff map them once; the e-mail and notes are recognised.
    assert chosen(html) == ["", "", "email", "", "staff_notes"]
    response = confirm(as_manager, token, mapping_data(html, col_0="first_name", col_1="last_name", col_3="zip"))
    assert response.status_code == 303
    joerg = find("Müller")
    assert (joerg.first_name, joerg.zip, joerg.staff_notes) == ("Jörg", "02139", "Walk at noon; back gate, not front")


def test_the_last_mapping_is_remembered_for_the_next_file(as_manager):
    first = csv_bytes([["Vorname", "Nachname", "E-Mail", "Handy", "Kundennr"], ["Jörg", "Müller", "j@example.com",
                                                                                  "555 0101", "K-17"]])
    token, html = start(as_manager, first)
    confirm(as_manager, token, mapping_data(html, col_0="first_name", col_1="last_name", col_3="mobile_phone",
                                            col_4="note"))
    second = csv_bytes([["Kundennr", "Vorname", "Nachname", "Handy", "E-Mail", "Gate code"],
                        ["K-18", "Anke", "Bauer", "555 0102", "anke@example.com", "12"]])
    _token, html = start(as_manager, second)
    assert chosen(html) == ["note", "first_name", "last_name", "mobile_phone", "email", ""]


def test_synonyms_and_a_single_name_column():
    assert imports.guess_mapping(["E-mail", "Cell", "Address 1", "Postal Code", "Customer", "Dog's name", "DOB"]) == \
        ["email", "mobile_phone", "address_line1", "zip", "full_name", "pet_name", "born"]
    assert imports.guess_mapping(["email address", "Telephone", "Street", "Postcode", "Apt", "Town", "Province"]) == \
        ["email", "mobile_phone", "address_line1", "zip", "address_line2", "city", "state"]
    # Beside the owner's first and last names, a lone "Name" is the pet's; a second "Email" column is not a
    # second primary email.
    assert imports.guess_mapping(["First", "Last", "Name", "Type", "Email", "Email"]) == \
        ["first_name", "last_name", "pet_name", "species", "email", ""]


def test_an_excel_workbook_with_real_dates_numbers_and_a_chosen_sheet(as_manager):
    owners = [["First name", "Last name", "Email", "Zip", "Pet name", "Species", "Born", "Weight"],
              ["Gus", "Gray", "gus@example.com", 2139, "Rex", "dog", datetime(2019, 6, 15), 30.0],
              ["Gus", "Gray", "gus@example.com", 2139, "Tiny", "CAT", date(2021, 2, 1), 9.5]]
    body = xlsx_bytes(("Notes", [["Exported by OldSoft"]]), ("Clients", owners))
    token, html = start(as_manager, body, "export.xlsx")
    assert chosen(html) == [""]  # the first sheet; the other is one click away
    assert 'value="Clients"' in html
    html = as_manager.get(f"/imports/{token}?sheet=Clients").get_data(as_text=True)
    assert chosen(html) == ["first_name", "last_name", "email", "zip", "pet_name", "species", "born", "weight"]
    assert "2019-06-15" in html and "02139" not in html  # the values as the sheet has them, zero added on import
    response = confirm(as_manager, token, mapping_data(html))
    assert response.status_code == 303
    gus = find("Gray")
    assert gus.zip == "02139"
    pets = {p.name: p for p in gus.pets}
    assert (pets["Rex"].species, pets["Rex"].born_year, pets["Rex"].born_month, pets["Rex"].born_day) == \
        ("Dog", 2019, 6, 15)
    assert (pets["Tiny"].species, pets["Tiny"].born_year, float(pets["Tiny"].weight)) == ("Cat", 2021, 9.5)


def test_pets_in_the_owners_file_one_row_per_pet(as_manager):
    body = csv_bytes([["Owner first", "Owner last", "Email", "Phone", "Pet", "Type", "Breed"],
                      ["Ann", "Archer", "ann@example.com", "555 0101", "Biscuit", "Dog", "Beagle"],
                      ["Ann", "Archer", "ann@example.com", "", "Mitten", "Cat", ""],
                      ["Bo", "Baker", "", "555 0199", "Pip", "Dog", ""],
                      ["Bo", "Baker", "", "555 0199", "Pop", "Dog", ""]])
    token, html = start(as_manager, body)
    assert re.search(r"<strong>2</strong> new clients", html) and re.search(r"<strong>4</strong> pets", html)
    assert "Import 2 clients" in html
    confirm(as_manager, token, mapping_data(html))
    assert count(ClientProfile) == 2 and count(Pet) == 4
    ann, bo = find("Archer"), find("Baker")
    assert sorted(p.name for p in ann.pets) == ["Biscuit", "Mitten"] and ann.mobile_phone == "555 0101"
    assert sorted(p.name for p in bo.pets) == ["Pip", "Pop"] and bo.emails == []


def test_importing_again_skips_or_updates_matches(as_manager, make):
    make.client(first_name="Old", last_name="Timer", email="old@example.com", mobile_phone="555 0000")
    rows = [["First name", "Last name", "Email", "Mobile", "City", "Pet name", "Species"],
            ["Ann", "Archer", "ann@example.com", "555 0101", "Boston", "Biscuit", "Dog"],
            ["Old", "Timer", "OLD@example.com", "555 0000", "Salem", "", ""],
            ["Nomail", "Person", "", "555 0303", "Lynn", "", ""]]
    token, html = start(as_manager, csv_bytes(rows))
    assert re.search(r"<strong>2</strong> new clients", html) and re.search(r"<strong>1</strong> already on file", html)
    assert "Already on file: Old Timer" in html
    confirm(as_manager, token, mapping_data(html))
    assert count(ClientProfile) == 3 and find("Timer").city == ""  # skipped: left as it was

    rows[1][4] = "Cambridge"  # the business fixed a city, and adds a pet for the client matched by name and phone
    rows[3][5:7] = ["Pip", "Cat"]
    token, html = start(as_manager, csv_bytes(rows))
    assert re.search(r"<strong>0</strong> new clients", html) and re.search(r"<strong>3</strong> already on file", html)
    assert 'disabled' in re.search(r'<button type="submit" class="primary"[^>]*>', html).group(0)  # nothing to do
    data = mapping_data(html, on_match="update")
    updating = as_manager.post(f"/imports/{token}/preview", data=data, headers=HX).get_data(as_text=True)
    assert "Import 3 clients" in updating
    response = confirm(as_manager, token, data)
    assert response.status_code == 303
    assert count(ClientProfile) == 3 and count(ClientEmail) == 2 and count(Pet) == 2
    assert find("Archer").city == "Cambridge" and find("Timer").city == "Salem"
    assert [p.name for p in find("Person").pets] == ["Pip"] and [p.name for p in find("Archer").pets] == ["Biscuit"]
    flashed = as_manager.get("/clients/").get_data(as_text=True)
    assert "Imported: 0 new clients, 3 clients updated, 2 pets." in flashed


def test_required_onboarding_fields_are_left_for_clients_not_refused(as_manager):
    update_settings(True, False, {"emergency_contact": "required", "mobile_phone": "required"}, {"breed": "required"})
    db.session.commit()
    body = csv_bytes([["First name", "Last name", "Email", "Mobile", "Pet name", "Species"],
                      ["Ann", "Archer", "ann@example.com", "", "Biscuit", "Dog"],
                      ["Bo", "Baker", "bo@example.com", "555 0101", "", ""]])
    token, html = start(as_manager, body)
    assert "Left for clients to fill" in html
    assert "Emergency contact: 2 clients" in html and "Mobile phone: 1 client<" in html and "Breed: 1 pet<" in html
    assert confirm(as_manager, token, mapping_data(html)).status_code == 303
    assert count(ClientProfile) == 2


def test_rows_with_errors_are_listed_under_their_column_and_left_out(as_manager, make):
    body = csv_bytes([["First name", "Surname", "E-mail", "Status", "Pet", "Species", "Born", "Weight"],
                      ["Ann", "Archer", "ann@example.com", "active", "Rex", "Dog", "2019-06", "30 lbs"],
                      ["", "Baker", "bob@example.com", "", "", "", "", ""],
                      ["Cid", "Cole", "not-an-email", "", "", "", "", ""],
                      ["Eve", "Enn", "eve@example.com", "retired", "Tiny", "", "2019-13", "9000"],
                      ["Fay", "Fox", "ann@example.com", "", "", "", "", ""]])
    token, html = start(as_manager, body)
    assert "<td>3</td><td>First name</td><td>The first name is missing.</td>" in html
    assert "<td>4</td><td>E-mail</td><td>“not-an-email” is not an email address" in html
    assert "<td>5</td><td>Status</td><td>Use prospect, active or inactive.</td>" in html
    assert "<td>5</td><td>Species</td>" in html and "<td>5</td><td>Born</td>" in html and "<td>5</td><td>Weight</td>" in html
    assert "Row 2 has this email for Ann Archer" in html
    assert re.search(r"<strong>4</strong> rows with errors", html)
    confirm(as_manager, token, mapping_data(html))
    ann = find("Archer")
    assert count(ClientProfile) == 1 and ann.status == ClientStatus.ACTIVE and float(ann.pets[0].weight) == 30
    flashed = as_manager.get("/clients/").get_data(as_text=True)
    assert "Imported: 1 new client, 1 pet. 4 rows with errors were left out." in flashed
    again = confirm(as_manager, token, mapping_data(html))
    assert again.status_code == 404 and "upload the file again" in again.get_data(as_text=True)


def test_pets_for_clients_on_file(as_manager, make):
    gus = make.client(first_name="Gus", last_name="Gray", email="gus@example.com")
    body = csv_bytes([["Owner email", "Pet name", "Species"], ["gus@example.com", "Rex", "Dog"],
                      ["nobody@example.com", "Ghost", "Cat"]])
    token, html = start(as_manager, body)
    assert "No client has this email" in html and "Import 1 pet" in html
    response = confirm(as_manager, token, mapping_data(html))
    assert response.headers["Location"].endswith("/pets/")
    assert [p.name for p in find("Gray").pets] == ["Rex"] and gus.id == find("Gray").id and count(ClientProfile) == 1


def test_a_bad_mapping_is_shown_beside_its_column_and_nothing_is_imported(as_manager):
    token, html = start(as_manager, csv_bytes([["First", "Last", "Email", "Email 2"], ["A", "B", "a@example.com", "x"]]))
    twice = confirm(as_manager, token, mapping_data(html, col_3="email"))
    page = twice.get_data(as_text=True)
    assert twice.status_code == 422 and "Fix where the columns go first." in page
    assert re.search(r'id="col_3-error">“Email” is already the column “Email”', page)
    nameless = confirm(as_manager, token, mapping_data(html, col_0="", col_1="", col_2=""))
    assert nameless.status_code == 422 and "Choose the column with the client&#39;s name" in nameless.get_data(as_text=True)
    tampered = confirm(as_manager, token, mapping_data(html, col_0="password_hash"))
    assert tampered.status_code == 422 and "Not a valid choice" in tampered.get_data(as_text=True)
    assert count(ClientProfile) == 0


def test_bad_files_are_refused_beside_the_file_field(as_manager):
    wrong = upload(as_manager, b"%PDF-1.4", "notes.pdf")
    assert wrong.status_code == 422 and "Upload a .csv or .xlsx file" in wrong.get_data(as_text=True)
    empty = upload(as_manager, b"", "empty.csv", headers=HX)
    assert empty.status_code == 422 and "The file is empty" in empty.get_data(as_text=True)
    broken = upload(as_manager, b"PK\x03\x04 not really a workbook", "c.xlsx")
    assert broken.status_code == 422 and "could not be read as an Excel workbook" in broken.get_data(as_text=True)
    none = as_manager.post("/imports/", data={}, content_type="multipart/form-data")
    assert none.status_code == 422 and "Choose a file." in none.get_data(as_text=True)
    for path in ("../../etc/passwd", "0" * 32 + ".csv", "not-a-token"):
        assert as_manager.get(f"/imports/{path}").status_code == 404
    assert count(ClientProfile) == 0


def test_htmx_upload_swaps_in_the_mapping_and_pushes_its_url(as_manager):
    response = upload(as_manager, csv_bytes([FOREIGN, ["A", "B", "a@example.com", "", "", "", "", ""]]), headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "Where each column goes" in html
    assert re.fullmatch(r"/imports/[0-9a-f]{32}\.csv", response.headers["HX-Push-Url"])


def test_the_template_imports_as_it_is(as_manager):
    body = as_manager.get("/imports/template.csv").data
    assert "attachment" in as_manager.get("/imports/template.csv").headers["Content-Disposition"]
    token, html = start(as_manager, body)
    assert "" not in chosen(html)  # every template column is recognised
    confirm(as_manager, token, mapping_data(html))
    jane = find("Doe")
    assert jane.primary_emails == ["jane@example.com"] and jane.pets[0].name == "Biscuit"
    book = load_workbook(io.BytesIO(as_manager.get("/imports/template.xlsx").data))
    assert [c.value for c in book.active[1]][:3] == ["First name", "Last name", "Email"]


def test_abandoned_uploads_are_deleted_after_two_days(as_manager, app):
    import os
    import time

    token, _html = start(as_manager, csv_bytes([["First", "Last"], ["A", "B"]]))
    path = os.path.join(app.instance_path, "imports", token)
    old = time.time() - 3 * 24 * 3600
    os.utime(path, (old, old))
    start(as_manager, csv_bytes([["First", "Last"], ["C", "D"]]))
    assert not os.path.exists(path)


def test_sitters_and_clients_cannot_import(app, make, portal):
    browser = app.test_client()
    login_as(browser, make.staff(Role.SITTER))
    assert browser.get("/imports/").status_code == 403
    assert upload(browser, csv_bytes([["First", "Last"], ["A", "B"]])).status_code == 403
    assert portal.get("/imports/").status_code in (403, 404)
    assert count(ClientProfile) == 1  # the portal's own profile only
