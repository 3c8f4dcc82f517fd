"""Spreadsheet import: template, preview with per-row errors, duplicates, one-transaction confirm, XLSX, pets."""
import csv
import io
import re

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from extensions import db
from models import ClientProfile, ClientStatus, Pet
from services.settings import update_settings
from tests.conftest import HX

HEADER = "first_name,last_name,email,mobile_phone,zip,status,uses_keys\n"


def _upload(client, body: bytes, name="clients.csv", kind="clients", headers=None):
    return client.post("/imports/preview", data={"kind": kind, "file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data", headers=headers or {})


def _token(html: str) -> str:
    return re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)


def test_templates_download_with_the_columns(as_manager):
    response = as_manager.get("/imports/template/clients.csv")
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header[:3] == ["first_name", "last_name", "email"] and "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(as_manager.get("/imports/template/pets.xlsx").data))
    assert [c.value for c in book.active[1]][:3] == ["client_email", "name", "species"]


def test_preview_lists_errors_by_row_and_column_then_imports_only_valid_rows(as_manager, make):
    make.client(email="old@example.com")
    body = (HEADER + "Ann,Archer,ann@example.com,555 0101,02139,active,yes\n"
            ",Baker,bob@example.com,,,,\n"
            "Cid,Cole,not-an-email,,,,\n"
            "Dee,Dunn,old@example.com,,,,\n"
            "Eve,Enn,eve@example.com,,,retired,maybe\n"
            "Fay,Fox,ann@example.com,,,,\n").encode()
    response = _upload(as_manager, body, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "<td>3</td><td>first_name</td><td>Required.</td>" in html
    assert "<td>4</td><td>email</td>" in html and "not an email address" in html
    assert "<td>6</td><td>status</td>" in html and "<td>6</td><td>uses_keys</td>" in html
    assert "Same email as row 2" in html
    assert "Row 5: old@example.com already belongs to a client" in html
    assert db.session.scalar(select(func.count(ClientProfile.id))) == 1  # nothing imported yet

    confirmed = as_manager.post("/imports/confirm", data={"kind": "clients", "token": _token(html)})
    assert confirmed.status_code == 303
    names = sorted(db.session.scalars(select(ClientProfile.last_name)))
    assert names == ["Archer"] + [n for n in names if n.startswith("Last")]
    ann = db.session.scalar(select(ClientProfile).where(ClientProfile.last_name == "Archer"))
    assert ann.status == ClientStatus.ACTIVE and ann.uses_keys and ann.primary_emails == ["ann@example.com"]
    again = as_manager.post("/imports/confirm", data={"kind": "clients", "token": _token(html)})
    assert again.status_code == 422 and "expired" in again.get_data(as_text=True)


def test_xlsx_import_and_pets_matched_by_email(as_manager, make):
    book = Workbook()
    book.active.append(["First Name", "Last Name", "Email"])
    book.active.append(["Gus", "Gray", "gus@example.com"])
    out = io.BytesIO()
    book.save(out)
    html = _upload(as_manager, out.getvalue(), "c.xlsx").get_data(as_text=True)
    assert "1</strong> ready to import" in html
    as_manager.post("/imports/confirm", data={"kind": "clients", "token": _token(html)})
    pets = ("client_email,name,species,born,weight\n"
            "gus@example.com,Rex,Dog,2019-06,30\n"
            "nobody@example.com,Ghost,Cat,,\n"
            "gus@example.com,Tiny,Cat,2019-13,\n"
            "gus@example.com,Heavy,Dog,,9000\n").encode()
    html = _upload(as_manager, pets, "p.csv", kind="pets").get_data(as_text=True)
    assert "No client has this email" in html and "month from 1 to 12" in html and "between 0 and 500" in html
    as_manager.post("/imports/confirm", data={"kind": "pets", "token": _token(html)})
    rex = db.session.scalar(select(Pet))
    assert (rex.name, rex.born_year, rex.born_month, rex.client.last_name) == ("Rex", 2019, 6, "Gray")
    assert db.session.scalar(select(func.count(Pet.id))) == 1


def test_field_rules_apply_to_imports(as_manager):
    update_settings(True, False, {"mobile_phone": "required"}, {})
    db.session.commit()
    html = _upload(as_manager, (HEADER + "Ann,Archer,ann@example.com,,,,\n").encode()).get_data(as_text=True)
    assert "Mobile phone is required" in html and "0</strong> ready" in html


def test_bad_files_are_refused_with_a_message(as_manager):
    wrong = _upload(as_manager, b"hello", "notes.txt")
    assert wrong.status_code == 422 and "Upload a .csv or .xlsx file" in wrong.get_data(as_text=True)
    no_columns = _upload(as_manager, b"name,phone\nx,y\n")
    assert no_columns.status_code == 422 and "no column first_name" in no_columns.get_data(as_text=True)
    broken = _upload(as_manager, b"PK\x03\x04 not really a workbook", "c.xlsx")
    assert broken.status_code == 422 and "could not be read" in broken.get_data(as_text=True)
    tampered = as_manager.post("/imports/confirm", data={"kind": "clients", "token": "../../etc/passwd"})
    assert tampered.status_code == 422


def test_sitters_cannot_import(app, make):
    from models import Role
    from tests.conftest import login_as

    browser = app.test_client()
    login_as(browser, make.staff(Role.SITTER))
    assert browser.get("/imports/").status_code == 403
