"""Erasing a client (owners only, confirmed by typing the name): personal data and files go, the money records stay
under a pseudonym, the logins end. On both databases."""
import io
import os
from datetime import timedelta

from sqlalchemy import func, select

from extensions import db
from models import (
    AuditEvent, ClientEmail, ClientLogin, ClientProfile, Document, Invoice, LedgerEntry, Message, MessageThread, NewsletterSubscriber,
    OutboxMessage, Payment, Pet, Photo, ReportPhoto, Role, Visit, VisitStatus,
)
from services import messages
from tests.conftest import login_as
from tests.test_checkins import book
from tests.test_client_data import household, read


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def stored_files(app) -> set[str]:
    return {os.path.join(root, name) for root, _dirs, names in os.walk(app.config["UPLOAD_FOLDER"]) for name in names}


def test_an_owner_erases_a_client_and_only_the_money_records_stay(app, make, me, password_hash):
    owner, manager, sitter = make.staff(Role.OWNER), make.staff(Role.MANAGER), make.staff(Role.SITTER)
    client = household(make, me, "A", manager, sitter)
    client_id, login_id = client.id, me.id
    to_come = book(client, make.service(name="Later walk"), sitter, [client.pets[0]], starts_in=timedelta(days=3))
    messages.from_visitor(messages.Contact("Nia", "NIA@example.com", "", "Before I signed up", "My gate is blue"))
    db.session.add(NewsletterSubscriber(email="nia@example.com", state="confirmed", client_id=client.id))
    other_login = ClientLogin(client=make.client(first_name="Other"), email="other@example.com", password_hash=password_hash)
    db.session.add(other_login)
    db.session.commit()
    household(make, other_login, "B", manager, sitter)
    files_before = stored_files(app)
    portal = app.test_client()
    login_as(portal, me)
    assert portal.get("/portal/").status_code == 200
    invoices, payments, entries = count(Invoice), count(Payment), count(LedgerEntry)

    office = app.test_client()
    login_as(office, owner)
    page = office.get(f"/clients/{client_id}/erase")
    assert page.status_code == 200 and "Type: Nia Reyes" in page.get_data(as_text=True)
    wrong = office.post(f"/clients/{client_id}/erase", data={"confirm": "Nia"})
    assert wrong.status_code == 422 and 'id="confirm-error"' in wrong.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ClientProfile, client_id).first_name == "Nia"
    done = office.post(f"/clients/{client_id}/erase", data={"confirm": "  nia   reyes "})
    assert done.status_code == 303

    db.session.expire_all()
    client = db.session.get(ClientProfile, client_id)
    assert (client.name, client.erased_by_name, client.mobile_phone, client.staff_notes) == (
        f"Erased client {client_id}", owner.name, "", "")
    assert client.erased_at is not None and count(ClientEmail, ClientEmail.client_id == client_id) == 0
    login = db.session.get(ClientLogin, login_id)
    assert not login.active and login.password_hash is None and "nia" not in login.email
    assert portal.get("/portal/").status_code == 302  # signed out everywhere
    assert [p.name for p in db.session.scalars(select(Pet).where(Pet.client_id == client_id))] == ["Pet 1"]
    assert count(Photo, Photo.client_id == client_id) == count(Document, Document.client_id == client_id) == 0
    assert count(ReportPhoto, ReportPhoto.visit_id.in_(select(Visit.id).where(Visit.client_id == client_id))) == 0
    assert db.session.get(Visit, to_come.id).status == VisitStatus.CANCELLED
    assert {m.body for m in db.session.scalars(select(Message))} >= {"(erased)"}
    assert not db.session.scalars(select(MessageThread).where(MessageThread.subject == "Before I signed up")).all()
    assert count(NewsletterSubscriber, NewsletterSubscriber.email == "nia@example.com") == 0
    assert not [m for m in db.session.scalars(select(OutboxMessage)) if "nia@example.com" in str(m.recipients)]
    # The money records stay, and other clients are untouched.
    assert (count(Invoice), count(Payment), count(LedgerEntry)) == (invoices, payments, entries)
    assert db.session.scalar(select(Pet.name).where(Pet.name == "PetB")) == "PetB"
    # The files are gone from disk (after the commit), the other client's stay.
    gone = files_before - stored_files(app)
    assert len(gone) >= 5 and all(os.path.exists(f) for f in files_before - gone)
    # Nothing personal is left in what the data export would give.
    _archive, documents = read(office.get(f"/clients/{client_id}/data"))
    text = repr(documents)
    for personal in ("Nia", "Reyes", "nia@example.com", "PetA", "Walked A", "A question", "rabies"):
        assert personal not in text, personal
    # The audit log keeps who changed what and when, but not the client's words, and says who erased them.
    logged = db.session.scalars(select(AuditEvent).where(AuditEvent.client_id == client_id)).all()
    assert logged and not [e for e in logged if any(word in f"{e.old_value} {e.new_value} {e.client_name} {e.staff_name}"
                                                    for word in ("Nia", "Reyes", "nia@example.com"))]
    assert [(e.field, e.staff_name) for e in logged if e.field == "erased"] == [("erased", owner.name)]
    assert "Personal data erased" in office.get(f"/clients/{client_id}/history").get_data(as_text=True)
    # The profile says so; erasing again is refused.
    assert "personal data was erased" in office.get(f"/clients/{client_id}").get_data(as_text=True)
    assert office.post(f"/clients/{client_id}/erase", data={"confirm": client.name}).status_code == 422


def test_only_owners_may_erase(app, make, me):
    for role in (Role.MANAGER, Role.SITTER):
        staff = app.test_client()
        login_as(staff, make.staff(role))
        assert staff.post(f"/clients/{me.client.id}/erase", data={"confirm": "Nia Reyes"}).status_code == 403
        assert staff.get(f"/clients/{me.client.id}/erase").status_code == 403
    db.session.expire_all()
    assert db.session.get(ClientProfile, me.client.id).erased_at is None


def test_erasing_scrubs_the_audit_rows_of_pets_logins_and_key_holders(app, make, password_hash):
    """The audit log's rows about the client's pets, portal logins and key holders (and the erasure's own changes to
    them) keep who and when, not the client's words nor the pets' and logins' names."""
    owner, sitter = make.staff(Role.OWNER), make.staff(Role.SITTER, first_name="Mia", last_name="Lopez")
    client = make.client(first_name="Ines", last_name="Quill", email="ines@example.com")
    client_id = client.id
    office = app.test_client()
    login_as(office, owner)
    assert office.post(f"/pets/?client_id={client_id}", data={
        "name": "Pumpernickel", "species": "Dog", "sex": "", "active": "y", "care_notes": "Fears the red bin",
        "vaccinations-0-name": "", "vaccinations-0-expires_on": ""}).status_code == 303
    assert office.post(f"/clients/{client_id}/keys", data={"key-staff_id": str(sitter.id), "key-has_key": "y",
                                                           "key-notes": "Spare under the heron"}).status_code == 303
    assert office.post(f"/clients/{client_id}/logins", data={"email": "ines.partner@example.com",
                                                             "first_name": "Oren", "last_name": "Quill"}).status_code == 303
    personal = ("Pumpernickel", "Fears the red bin", "Spare under the heron", "ines.partner@example.com", "Oren",
                "Quill", "Ines")

    def said() -> list[AuditEvent]:
        db.session.expire_all()
        return db.session.scalars(select(AuditEvent).where(AuditEvent.client_id == client_id)).all()

    before = said()
    assert {e.kind for e in before} >= {"pet", "keys", "login"}
    assert [w for w in personal if any(w in f"{e.subject} {e.old_value} {e.new_value}" for e in before)]
    assert office.post(f"/clients/{client_id}/erase", data={"confirm": "Ines Quill"}).status_code == 303

    after = said()
    assert len(after) > len(before)  # the erasure's own changes to pets and logins are rows too, scrubbed
    left = [(e.kind, e.field, w) for e in after for w in personal
            if w in f"{e.subject} {e.old_value} {e.new_value} {e.client_name} {e.staff_name}"]
    assert left == []
    assert {e.subject for e in after if e.kind in ("pet", "login")} == {"(erased)"}
    assert {e.subject for e in after if e.kind == "keys"} == {"Mia Lopez"}  # the team member is not the client's
    assert all(e.old_value == e.new_value == "(erased)" for e in after if e.kind in ("pet", "login", "keys"))
