"""Each client's data, theirs to take: the portal's "Download all your data" and the staff copy of it. One zip with
JSON and their files; nothing of another client's, nor the business's own notes."""
import io
import json
import zipfile
from datetime import date, time

from werkzeug.datastructures import FileStorage

from extensions import db
from filters import business_today
from models import Invoice, InvoiceStatus, Role, VisitStatus, utcnow
from services import billing, messages, reports, visits
from services.documents import store_document
from services.pets import store_photo
from services.resources import save_service
from tests.conftest import login_as
from tests.test_messages import PDF
from tests.test_pets import png_bytes


def household(make, login, label: str, manager, sitter):
    """A client with what clients have: a pet with a photo and a document, a visit with a report and a photo, a
    message with a file, an invoice issued and paid in part, and a draft."""
    client = login.client
    client.staff_notes = f"STAFF ONLY {label}"
    pet = make.pet(client, name=f"Pet{label}")
    pet.photo = store_photo(client, FileStorage(io.BytesIO(png_bytes()), "p.png"))
    store_document(client, FileStorage(io.BytesIO(PDF), f"rabies {label}.pdf"), "Rabies", pet)
    service = save_service(None, f"Walk {label}", 30, 2000, True)
    db.session.commit()
    request = visits.request_visits(client, login, visits.Plan([service], [date(2030, 3, 4)], "morning", time(8),
                                                               time(11), [pet]))
    db.session.commit()
    [visit] = request.visits
    visits.decide_request(request, manager, [visits.Approval(visit.id, True)], sitter, "")
    visit.status, visit.checked_in_at = VisitStatus.IN_PROGRESS, utcnow()
    visit.check_in_latitude = 42.0
    db.session.commit()
    reports.add_photo(visit, sitter, FileStorage(io.BytesIO(png_bytes()), "r.png"))
    reports.send_report(visit, sitter, set(), f"Walked {label}", "happy")
    messages.write_to_business(client, login, f"Hello {label}", "A question", FileStorage(io.BytesIO(PDF), "q.pdf"))
    invoice = Invoice(client=client, status=InvoiceStatus.DRAFT, notes="", void_reason="", paid_cents=0)
    db.session.add(invoice)
    billing.add_line(invoice, "charge", f"Key cut {label}", 1500, None, None)
    billing.issue_invoice(invoice, manager)
    billing.record_payment(client, "cash", 500, business_today(), "", "", manager)
    draft = Invoice(client=client, status=InvoiceStatus.DRAFT, notes="", void_reason="", paid_cents=0)
    db.session.add(draft)
    billing.add_line(draft, "charge", f"Draft line {label}", 900, None, None)
    db.session.commit()
    return client


def read(response) -> tuple[zipfile.ZipFile, dict]:
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    return archive, {name: json.loads(archive.read(name)) for name in archive.namelist() if name.endswith(".json")}


def test_a_client_downloads_all_their_data_and_nothing_of_anyone_else(app, make, me, portal, password_hash):
    manager, sitter = make.staff(Role.MANAGER), make.staff(Role.SITTER)
    household(make, me, "A", manager, sitter)
    other = make.client(first_name="Other")
    from models import ClientLogin
    other_login = ClientLogin(client=other, email="other@example.com", password_hash=password_hash)
    db.session.add(other_login)
    db.session.commit()
    household(make, other_login, "B", manager, sitter)

    home = portal.get("/portal/").get_data(as_text=True)
    assert 'href="/portal/my-data"' in home
    response = portal.get("/portal/my-data")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"] and "pawtal-data-nia-reyes" in response.headers[
        "Content-Disposition"]
    archive, documents = read(response)
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert b"STAFF ONLY" not in everything and b"PetB" not in everything and b"Hello B" not in everything
    assert b"Draft line" not in everything and b"42.0" not in everything
    profile = documents["profile.json"]
    assert (profile["first_name"], profile["emails"][0]["email"]) == ("Nia", "nia@example.com")
    assert "staff_notes" not in profile and "stripe_customer_id" not in profile
    [pet] = documents["pets.json"]
    assert pet["name"] == "PetA" and archive.read(pet["photo"])[:3] == b"\xff\xd8\xff"
    [visit] = documents["visits.json"]
    assert visit["report"]["notes"] == "Walked A" and len(visit["report"]["photos"]) == 1
    assert "check_in_latitude" not in visit
    [document] = documents["documents.json"]
    assert archive.read(document["file"]) == PDF
    [thread] = documents["messages.json"]
    assert thread["subject"] == "Hello A" and archive.read(thread["messages"][0]["file"]) == PDF
    [invoice] = documents["invoices.json"]
    assert invoice["lines"][0]["description"] == "Key cut A" and invoice["status"] != "draft"
    assert [p["amount_cents"] for p in documents["payments.json"]] == [500]
    assert sorted(documents["about.json"]["files"]) == sorted(n for n in archive.namelist() if not n.endswith(".json"))
    assert all(not name.startswith(("/", "..")) and ".." not in name for name in archive.namelist())


def test_managers_download_a_clients_data_and_others_may_not(app, make, me):
    manager, sitter = make.staff(Role.MANAGER), make.staff(Role.SITTER)
    household(make, me, "A", manager, sitter)
    office = app.test_client()
    login_as(office, manager)
    response = office.get(f"/clients/{me.client.id}/data")
    assert response.status_code == 200 and read(response)[1]["profile.json"]["first_name"] == "Nia"
    assert f'href="/clients/{me.client.id}/data"' in office.get(f"/clients/{me.client.id}").get_data(as_text=True)
    theirs = app.test_client()
    login_as(theirs, sitter)
    assert theirs.get(f"/clients/{me.client.id}/data").status_code == 403
    assert app.test_client().get("/portal/my-data").status_code == 302  # sign in first
