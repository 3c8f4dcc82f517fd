"""Erasing a client (owners only, confirmed by typing the client's name): their personal data and files go; the
money records stay for the accounts, under a pseudonym ("Erased client 42"); their logins end.

What goes: names, contact details, address, keys and lockbox, emergency contact, notes (the office's too), email
addresses, the logins' addresses and passwords, the pets' names, details, photos, documents and vaccinations, form
answers, visit and request notes, report notes and photos, the sitter's tap locations, message texts and files (the
client's threads, and Contact page threads from their addresses), newsletter sign-ups, every email to their
addresses that the outbox still keeps, invitations, key holders, and cards on file (detached at Stripe too).

What stays (the accounts need it, and none of it names the client once the profile is a pseudonym): invoices and
their lines (without pet names), payments, refunds, credits and the ledger, online payments and tips, visits' days,
services, sitters and prices (visits still to come are cancelled), custom prices, and the erasure (when, by whom).
"""
from __future__ import annotations

from sqlalchemy import String, cast, delete, func, or_, select, update

from extensions import db
from filters import gettext as _
from models import (
    AuditEvent, ClientEmail, ClientProfile, ClientStatus, Document, FormResponse, Invitation, Invoice, InvoiceLine,
    KeyHolder, Message, MessageThread, NewsletterSubscriber, OutboxMessage, PaymentMethod, Pet, Photo, PolicyAgreement,
    PortalView, ReportPhoto, StaffUser, Vaccination, Visit, VisitReport, VisitRequest, VisitStatus, new_calendar_token,
    new_session_token, utcnow,
)
from services import audit, cards, documents, messages, pets, reports
from services.errors import DomainError
from services.uploads import drop_file_after_commit

ERASED = "(erased)"
STILL_TO_COME = (VisitStatus.REQUESTED, VisitStatus.SCHEDULED)
PROFILE_TEXTS = ("mobile_phone", "home_phone", "work_phone", "address_line1", "address_line2", "city", "state", "zip",
                 "key_notes", "lockbox_code", "emergency_name", "emergency_phone", "staff_notes", "autopay_consent_text",
                 "activated_reason", "phone_digits")


def _same_name(typed: str, name: str) -> bool:
    return " ".join((typed or "").split()).casefold() == " ".join(name.split()).casefold()


def erase(client: ClientProfile, owner: StaffUser, typed_name: str) -> ClientProfile:
    """Erase `client` once the owner typed their name as shown (any case)."""
    if client.erased_at is not None:
        raise DomainError(_("This client was erased already."))
    if not _same_name(typed_name, client.name):
        raise DomainError(_("Type the client's name as shown, %(name)s, to confirm.", name=client.name), "confirm")
    addresses = sorted({e.email.lower() for e in client.emails} | {login.email.lower() for login in client.logins})
    now = utcnow()
    _pets_and_files(client)
    _visits(client, now)
    _messages(client, addresses)
    _logins_and_mail(client, addresses)
    invoices = select(Invoice.id).where(Invoice.client_id == client.id)
    db.session.execute(update(InvoiceLine).where(InvoiceLine.invoice_id.in_(invoices)).values(pets=""))
    db.session.execute(update(FormResponse).where(FormResponse.client_id == client.id).values(answers={}))
    pseudonym = _("Erased client %(id)d", id=client.id)
    db.session.execute(update(PortalView).where(PortalView.client_id == client.id).values(client_name=pseudonym))
    for name in PROFILE_TEXTS:
        setattr(client, name, "")
    client.first_name, client.last_name = _("Erased client"), str(client.id)
    client.vet_id = client.territory_id = client.stripe_customer_id = None
    client.primary_sitter_id = client.secondary_sitter_id = None
    client.uses_keys = client.autopay = False
    client.autopay_consent_at = None
    client.status, client.erased_at, client.erased_by_id, client.erased_by_name = (
        ClientStatus.INACTIVE, now, owner.id, owner.name)
    client.blocked_sitters = []
    db.session.flush()
    db.session.expire(client, ["emails", "pets", "logins"])  # changed by the statements above
    client.refresh_search_text()
    db.session.flush()
    _audit_log(client, pseudonym)
    return client


# What the audit log says about these is the client's own: their profile, pets, portal logins (addresses, names) and
# key holders (their notes); its values are erased, and the pets' and logins' names with them.
PERSONAL_KINDS = ("client", "pet", "login", "keys")
NAMED_KINDS = ("pet", "login")


def _audit_log(client: ClientProfile, pseudonym: str) -> None:
    """The audit log keeps who changed what and when, not the client's words: the old and new values of their
    profile, pets, logins and key holders, visit notes, the pets' and logins' names and their own name are erased
    there too (this erasure's own changes included), then the erasure is recorded."""
    mine = AuditEvent.client_id == client.id
    db.session.execute(update(AuditEvent).where(mine, or_(AuditEvent.kind.in_(PERSONAL_KINDS), AuditEvent.field.in_(
        ("notes", "reason")))).values(old_value=ERASED, new_value=ERASED))
    db.session.execute(update(AuditEvent).where(mine, AuditEvent.kind.in_(NAMED_KINDS)).values(subject=ERASED))
    db.session.execute(update(AuditEvent).where(mine).values(client_name=pseudonym))
    db.session.execute(update(AuditEvent).where(mine, AuditEvent.actor_kind == "client").values(staff_name=pseudonym))
    audit.record(client, "client", client.id, "erased", "", ERASED)


def _pets_and_files(client: ClientProfile) -> None:
    """The pets stay as "Pet 1", "Pet 2" (visits and invoices name them); their details, photos and documents go."""
    for n, pet in enumerate(sorted(client.pets, key=lambda p: p.id), start=1):
        pet.name, pet.active, pet.photo_id = _("Pet %(num)d", num=n), False, None
        for name in ("breed", "sex", "colour", "description", "care_notes", "feeding", "medications"):
            setattr(pet, name, "")
        pet.weight = pet.born_year = pet.born_month = pet.born_day = None
    db.session.flush()
    db.session.execute(delete(Vaccination).where(Vaccination.pet_id.in_(select(Pet.id).where(Pet.client_id == client.id))))
    for photo in db.session.scalars(select(Photo).where(Photo.client_id == client.id)):
        drop_file_after_commit(pets.photo_path(photo))
        db.session.delete(photo)
    for document in db.session.scalars(select(Document).where(Document.client_id == client.id)):
        documents.delete_document(document)


def _visits(client: ClientProfile, now) -> None:
    visit_ids = select(Visit.id).where(Visit.client_id == client.id)
    db.session.execute(update(Visit).where(Visit.client_id == client.id, Visit.status.in_(STILL_TO_COME)).values(
        status=VisitStatus.CANCELLED, cancelled_at=now, cancelled_by="staff"))
    db.session.execute(update(Visit).where(Visit.client_id == client.id).values(
        notes="", reason="", check_in_latitude=None, check_in_longitude=None, check_in_accuracy=None,
        check_out_latitude=None, check_out_longitude=None, check_out_accuracy=None))
    db.session.execute(update(VisitRequest).where(VisitRequest.client_id == client.id).values(notes=""))
    db.session.execute(update(VisitReport).where(VisitReport.client_id == client.id).values(notes=""))
    for photo in db.session.scalars(select(ReportPhoto).where(ReportPhoto.visit_id.in_(visit_ids))):
        drop_file_after_commit(reports.photo_path(photo))
        drop_file_after_commit(reports.photo_path(photo, thumb=True))
        db.session.delete(photo)


def _messages(client: ClientProfile, addresses: list[str]) -> None:
    """The texts and files of the client's threads, and of Contact page threads written from their addresses."""
    threads = select(MessageThread.id).where(or_(MessageThread.client_id == client.id,
                                                 func.lower(MessageThread.contact_email).in_(addresses)))
    for message in db.session.scalars(select(Message).where(Message.thread_id.in_(threads),
                                                            Message.attachment_stored.is_not(None))):
        drop_file_after_commit(messages.attachment_path(message))
    db.session.execute(update(Message).where(Message.thread_id.in_(threads), Message.author != "staff").values(
        author_name=""))
    db.session.execute(update(Message).where(Message.thread_id.in_(threads)).values(
        body=ERASED, attachment_stored=None, attachment_name="", attachment_type="", attachment_size=0))
    db.session.execute(update(MessageThread).where(MessageThread.id.in_(threads)).values(
        subject=ERASED, contact_name="", contact_email="", contact_phone=""))


def _logins_and_mail(client: ClientProfile, addresses: list[str]) -> None:
    """The logins end (no address, no password, signed out everywhere); the emails, invitations, key holders, cards
    on file, newsletter sign-ups and mail kept for the client's addresses go."""
    db.session.execute(update(PolicyAgreement).where(PolicyAgreement.login_id.in_([login.id for login in client.logins]))
                       .values(ip_address=""))
    for login in client.logins:
        login.email, login.first_name, login.last_name = f"erased-{login.id}@erased.invalid", "", ""
        login.password_hash, login.active = None, False
        login.session_token, login.calendar_token = new_session_token(), new_calendar_token()
    db.session.execute(delete(ClientEmail).where(ClientEmail.client_id == client.id))
    db.session.execute(delete(Invitation).where(Invitation.client_id == client.id))
    db.session.execute(delete(KeyHolder).where(KeyHolder.client_id == client.id))
    for method in db.session.scalars(select(PaymentMethod).where(PaymentMethod.client_id == client.id)):
        if cards.stripe_configured():
            cards.detach_quietly(method.stripe_id)
        db.session.delete(method)
    if addresses:
        db.session.execute(delete(NewsletterSubscriber).where(or_(NewsletterSubscriber.client_id == client.id,
                                                                  func.lower(NewsletterSubscriber.email).in_(addresses))))
        sent_to = cast(OutboxMessage.recipients, String)
        db.session.execute(delete(OutboxMessage).where(or_(*(func.lower(sent_to).contains(a, autoescape=True) for a in addresses)))
                           .execution_options(synchronize_session=False))
