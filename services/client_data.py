"""Each client's data, theirs to take: one zip with JSON for their profile, logins, policies agreed, pets, visits and
reports, form answers, messages, invoices and payments, and their files (pet photos, documents, report photos,
message files).

What the client gave or the business keeps about them for them is in; what is the business's own working matter is
not: staff-only notes, search helpers, Stripe's customer id, and the phone locations of the sitter's taps (the
sitter's, not the client's). Visits are in whatever their state; invoices only once issued (a draft is not sent).
The files are copied as stored (already re-encoded when they came in)."""
from __future__ import annotations

import enum
import json
import os
import tempfile
import zipfile
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import inspect, select
from sqlalchemy.orm import selectinload

from extensions import db
from models import (
    ClientProfile, Document, FormResponse, Invoice, InvoiceStatus, LedgerEntry, MessageThread, Payment, Pet,
    PolicyAgreement, Visit, utcnow,
)
from services import documents, messages, pets, reports

PROFILE_KEPT_BACK = {"staff_notes", "search_text", "phone_digits", "stripe_customer_id", "onboarding_complete",
                     "territory_manual", "territory_id", "vet_id", "primary_sitter_id", "secondary_sitter_id"}
VISIT_KEPT_BACK = {"client_id", "sitter_id", "request_id", "service_id", "check_in_latitude", "check_in_longitude",
                   "check_in_accuracy", "check_out_latitude", "check_out_longitude", "check_out_accuracy"}


def _value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _columns(row, kept_back: set[str] = frozenset()) -> dict:
    """A row's own columns as JSON values, but those kept back."""
    return {column.key: _value(getattr(row, column.key)) for column in inspect(row).mapper.column_attrs
            if column.key not in kept_back}


class _Zip:
    """The zip being written: JSON documents and files, each under a name that cannot leave its folder."""

    def __init__(self, out):
        self.zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)
        self.names: set[str] = set()

    def json(self, name: str, data) -> None:
        self.zip.writestr(name, json.dumps(data, indent=2, ensure_ascii=False, default=_value))

    def file(self, folder: str, name: str, path: str) -> str | None:
        """Copy a stored file in as folder/name (made unique); None when the file is missing on disk."""
        if not os.path.exists(path):
            return None
        safe = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in name).strip(" .") or "file"
        stem, extension = os.path.splitext(safe)
        candidate, n = f"{folder}/{safe}", 1
        while candidate in self.names:
            n += 1
            candidate = f"{folder}/{stem}-{n}{extension}"
        self.names.add(candidate)
        self.zip.write(path, candidate)
        return candidate

    def close(self) -> None:
        self.zip.close()


def export(client: ClientProfile):
    """The client's data as a zip, in a temporary file (rewound; the caller closes it)."""
    out = tempfile.SpooledTemporaryFile(max_size=20 * 1024 * 1024)
    archive = _Zip(out)
    archive.json("profile.json", _profile(client))
    archive.json("pets.json", _pets(client, archive))
    archive.json("visits.json", _visits(client, archive))
    archive.json("form_answers.json", [
        {**_columns(r, {"client_id", "login_id", "version_id", "form_id"}), "form": r.form.title}
        for r in db.session.scalars(select(FormResponse).where(FormResponse.client_id == client.id)
                                    .options(selectinload(FormResponse.form)).order_by(FormResponse.id))])
    archive.json("documents.json", [
        {**_columns(d, {"stored_name", "client_id"}), "file": archive.file("documents", f"{d.id}-{d.original_name or 'document'}",
                                                                         documents.document_path(d))}
        for d in db.session.scalars(select(Document).where(Document.client_id == client.id).order_by(Document.id))])
    archive.json("messages.json", _messages(client, archive))
    archive.json("invoices.json", [
        {**_columns(i, {"client_id", "created_by_id", "voided_by_id"}),
         "lines": [_columns(line, {"invoice_id", "visit_id", "billed_visit_id"}) for line in i.lines]}
        for i in db.session.scalars(select(Invoice).where(Invoice.client_id == client.id,
                                                          Invoice.status != InvoiceStatus.DRAFT)
                                    .options(selectinload(Invoice.lines)).order_by(Invoice.id))])
    archive.json("payments.json", [
        {**_columns(p, {"client_id", "created_by_id"}),
         "paid_invoices": [{"invoice": a.invoice.number, "amount_cents": a.amount_cents} for a in p.allocations]}
        for p in db.session.scalars(select(Payment).where(Payment.client_id == client.id)
                                    .options(selectinload(Payment.allocations)).order_by(Payment.id))])
    archive.json("account.json", [
        _columns(e, {"client_id", "created_by_id"})
        for e in db.session.scalars(select(LedgerEntry).where(LedgerEntry.client_id == client.id)
                                    .order_by(LedgerEntry.at, LedgerEntry.id))])
    archive.json("about.json", {"client": client.name, "made_at": utcnow().isoformat(), "files": sorted(archive.names)})
    archive.close()
    out.seek(0)
    return out


def _profile(client: ClientProfile) -> dict:
    agreements = db.session.execute(select(PolicyAgreement).where(
        PolicyAgreement.login_id.in_([login.id for login in client.logins]))).scalars()
    return {
        **_columns(client, PROFILE_KEPT_BACK),
        "emails": [{"email": e.email, "primary": e.is_primary} for e in client.emails],
        "vet": client.vet.name if client.vet else None,
        "territory": client.territory.name if client.territory else None,
        "logins": [{"email": login.email, "first_name": login.first_name, "last_name": login.last_name,
                    "created_at": _value(login.created_at), "last_login_at": _value(login.last_login_at)}
                   for login in client.logins],
        "policies_agreed": [{"policy": a.policy.title, "version": a.policy_version, "agreed_at": _value(a.agreed_at),
                             "ip_address": a.ip_address} for a in agreements],
    }


def _pets(client: ClientProfile, archive: _Zip) -> list[dict]:
    found = db.session.scalars(select(Pet).where(Pet.client_id == client.id).order_by(Pet.id)
                               .options(selectinload(Pet.vaccinations), selectinload(Pet.photo)))
    return [{**_columns(pet, {"client_id", "photo_id"}),
             "vaccinations": [{"name": v.name, "expires_on": _value(v.expires_on)} for v in pet.vaccinations],
             "photo": archive.file("pet_photos", f"{pet.id}-{pet.name}.jpg", pets.photo_path(pet.photo))
             if pet.photo else None} for pet in found]


def _visits(client: ClientProfile, archive: _Zip) -> list[dict]:
    found = db.session.scalars(select(Visit).where(Visit.client_id == client.id).order_by(Visit.starts_at)
                               .options(selectinload(Visit.reports), selectinload(Visit.photos),
                                        selectinload(Visit.pets), selectinload(Visit.service),
                                        selectinload(Visit.sitter)))
    shown = []
    for visit in found:
        report = visit.report
        entry = {**_columns(visit, VISIT_KEPT_BACK), "service": visit.service.name,
                 "sitter": visit.sitter.first_name if visit.sitter else None,
                 "pets": [pet.name for pet in visit.pets], "report": None}
        if report is not None:
            entry["report"] = {"version": report.version, "checklist": report.checklist, "notes": report.notes,
                               "mood": report.mood, "sent_at": _value(report.created_at),
                               "photos": [archive.file("report_photos", f"{visit.day.isoformat()}-{p.id}.jpg",
                                                       reports.photo_path(p))
                                          for p in reports.sent_photos(visit, report)]}
        shown.append(entry)
    return shown


def _messages(client: ClientProfile, archive: _Zip) -> list[dict]:
    threads = db.session.scalars(select(MessageThread).where(MessageThread.client_id == client.id)
                                 .options(selectinload(MessageThread.messages)).order_by(MessageThread.id))
    return [{"subject": t.subject, "visit_id": t.visit_id, "started_at": _value(t.created_at),
             "messages": [{"from": m.author_name, "from_business": m.from_business, "at": _value(m.created_at),
                           "text": m.body,
                           "file": archive.file("message_files", f"{m.id}-{m.attachment_name or 'file'}",
                                                messages.attachment_path(m)) if m.attachment_stored else None}
                          for m in t.messages]} for t in threads]


def filename(client: ClientProfile) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in client.name.lower()).strip("-") or "client"
    return f"pawtal-data-{safe}-{utcnow().date().isoformat()}.zip"
