"""Visit report cards: the service's checklist, photos from the sitter's camera, the report that completes
the visit, corrections as new versions, and what the client may see of them.

A photo is re-encoded from its pixels only (a phone photo's EXIF carries the client's home coordinates),
kept with a thumbnail under random names outside any served folder, and its stored file's SHA-256 and the
server's receive time are recorded. A sent report is never changed: a correction is a new version.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from PIL import Image
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload, selectinload

from extensions import db
from filters import gettext as _
from models import (
    MOODS,
    REPORT_NOTES_MAX,
    ChecklistItem,
    ClientLogin,
    Pet,
    ReportPhoto,
    Service,
    StaffUser,
    Visit,
    VisitReport,
    VisitStatus,
    utcnow,
)
from services import checkins, emails
from services.checkins import NotNow
from services.errors import DomainError, FieldErrors
from services.outbox import external_url
from services.settings import get_settings
from services.uploads import drop_file_after_commit, intake_image, jpeg_bytes, keep_file, read_upload, stored_path

PHOTO_SIDE = 2048
THUMB_SIDE = 480
FOLDER = "visit-photos"
# Thumbnails in a report email are signed links that stop working after this many days.
EMAIL_PHOTO_DAYS = 60
EMAIL_PHOTO_SALT = "report-photo-thumbnail"
NOTES_MAX = REPORT_NOTES_MAX
CHECKLIST_LABEL_MAX = 120
CHECKLIST_LINES_MAX = 200


def photo_path(photo: ReportPhoto, thumb: bool = False) -> str:
    return stored_path(FOLDER, photo.thumb_name if thumb else photo.stored_name)


@dataclass(frozen=True)
class Processed:
    """A photo ready to keep: the full image and its thumbnail as JPEG bytes."""

    full: bytes
    thumb: bytes
    width: int
    height: int


def process_photo(data: bytes, field: str = "photo") -> Processed:
    """Decode, turn upright, shrink, and re-encode a camera photo and its thumbnail: pixels only, no EXIF."""
    image = intake_image(data, field, PHOTO_SIDE, _("Take or choose a JPEG, PNG or WebP photo."),
                         _("This photo could not be read; take it again."))
    full = jpeg_bytes(image, 82)
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BILINEAR)
    return Processed(full, jpeg_bytes(thumb, 75), image.width, image.height)


def _may_report(visit: Visit, staff: StaffUser) -> None:
    """The assigned sitter reports on her visit; a manager may too (a visit recorded for someone else)."""
    if visit.sitter_id != staff.id and not staff.can_manage:
        raise NotNow(_("This visit is assigned to someone else."))


REPORTABLE = (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)


def add_photo(visit: Visit, staff: StaffUser, upload) -> ReportPhoto:
    """Keep a photo for the visit's report; it joins the report when the report is sent."""
    _may_report(visit, staff)
    if visit.status not in REPORTABLE:
        raise NotNow(_("Check in first: photos belong to a visit under way or done."))
    taken = db.session.scalar(select(func.count(ReportPhoto.id)).where(ReportPhoto.visit_id == visit.id)) or 0
    limit = current_app.config["VISIT_PHOTOS_PER_VISIT"]
    if taken >= limit:
        raise DomainError(_("A visit keeps at most %(num)d photos.", num=limit), "photo")
    if upload is None or not getattr(upload, "filename", ""):
        raise DomainError(_("Take or choose a photo first."), "photo")
    data = read_upload(upload, current_app.config["VISIT_PHOTO_MAX_BYTES"], "photo", "photo")
    processed = process_photo(data)
    photo = ReportPhoto(visit_id=visit.id, stored_name=secrets.token_hex(16) + ".jpg",
                        thumb_name=secrets.token_hex(16) + ".jpg", width=processed.width, height=processed.height,
                        sha256=hashlib.sha256(processed.full).hexdigest(), received_at=utcnow(),
                        uploaded_by_id=staff.id)
    db.session.add(photo)
    keep_file(photo_path(photo), processed.full)
    keep_file(photo_path(photo, thumb=True), processed.thumb)
    db.session.expire(visit, ["photos"])
    return photo


def remove_photo(photo: ReportPhoto, staff: StaffUser) -> None:
    """A photo not yet sent with a report can be taken back; a sent one stays with its report."""
    if photo.report_id is not None:
        raise NotNow(_("This photo was sent with the report: it stays with it."))
    if photo.uploaded_by_id != staff.id and not staff.can_manage:
        raise NotNow(_("Only who took a photo can remove it."))
    drop_file_after_commit(photo_path(photo))
    drop_file_after_commit(photo_path(photo, thumb=True))
    db.session.delete(photo)


def checklist_of(visit: Visit) -> list[ChecklistItem]:
    return list(visit.service.checklist)


def _filled(visit: Visit, items: list[ChecklistItem], ticked: set[int], notes: str, mood: str,
            previous: VisitReport | None) -> tuple[list[dict], str, str]:
    """The card as filled, checked: required items ticked, a known mood, notes within their limit."""
    errors = {}
    if previous is not None:
        # A correction ticks the lines of the version it corrects (their labels), not today's checklist.
        lines = [dict(line, done=i in ticked) for i, line in enumerate(previous.checklist)]
        keys = list(range(len(lines)))
    else:
        lines = [{"label": item.label, "required": item.required, "done": item.id in ticked} for item in items]
        keys = [item.id for item in items]
    for key, line in zip(keys, lines):
        if line["required"] and not line["done"]:
            errors[f"item_{key}"] = _("Required: tick it when it is done, or say in the notes why not.")
    if mood and mood not in MOODS:
        errors["mood"] = _("Choose one of the moods.")
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX:
        errors["notes"] = _("Keep the notes under %(num)d characters.", num=NOTES_MAX)
    if errors:
        raise FieldErrors(errors)
    return lines, notes, mood or ""


def send_report(visit: Visit, staff: StaffUser, ticked: set[int], notes: str, mood: str,
                now: datetime | None = None) -> VisitReport:
    """The sitter sends the visit's report: it completes the visit, takes the photos, and the client hears."""
    _may_report(visit, staff)
    if visit.reports:
        raise NotNow(_("The report is already sent; a correction makes a new version."))
    if visit.status not in REPORTABLE:
        raise NotNow(_("Check in first: a report is for a visit under way or done."))
    lines, notes, mood = _filled(visit, checklist_of(visit), ticked, notes, mood, None)
    now = now or utcnow()
    report = VisitReport(visit_id=visit.id, client_id=visit.client_id, version=1, checklist=lines, notes=notes, mood=mood, created_at=now,
                         created_by_id=staff.id, reason="")
    _keep_version(report, _("The report was sent a moment ago (another tab or phone); here it is."))
    _attach_photos(visit, report)
    checkins.complete_with_report(visit, staff, now)
    db.session.expire(visit, ["reports", "photos"])
    if get_settings().portal_visit_reports:
        emails.send_visit_report_email(visit, report, photo_links(report))
    return report


def correct_report(visit: Visit, staff: StaffUser, ticked: set[int], notes: str, mood: str, reason: str,
                   now: datetime | None = None, corrects: int | None = None) -> VisitReport:
    """A new version of a sent report, with who, when and why; the versions before it are kept as they were.

    `corrects` is the version the form was filled from: a newer one since (someone else's correction) refuses
    this one, so nobody's correction is overwritten unseen."""
    _may_report(visit, staff)
    previous = visit.report
    if previous is None:
        raise NotNow(_("There is no report to correct yet."))
    if corrects is not None and corrects != previous.version:
        raise NotNow(_corrected_meanwhile())
    reason = (reason or "").strip()
    try:
        lines, notes, mood = _filled(visit, [], ticked, notes, mood, previous)
    except FieldErrors as error:
        if not reason:
            error.errors["reason"] = _("Say what the correction changes and why (the client reads it).")
        raise
    if not reason:
        raise FieldErrors({"reason": _("Say what the correction changes and why (the client reads it).")})
    report = VisitReport(visit_id=visit.id, client_id=visit.client_id, version=previous.version + 1, checklist=lines, notes=notes, mood=mood,
                         created_at=now or utcnow(), created_by_id=staff.id, reason=reason)
    _keep_version(report, _corrected_meanwhile())
    _attach_photos(visit, report)
    db.session.expire(visit, ["reports", "photos"])
    if get_settings().portal_visit_reports:
        emails.send_visit_report_email(visit, report, photo_links(report))
    return report


def _corrected_meanwhile() -> str:
    return _("The report was corrected a moment ago; here it is as it is now. Correct it again if need be.")


def _keep_version(report: VisitReport, taken: str) -> None:
    """Write a report version; should another tab have written this version a moment ago, refuse with `taken`
    (its row wins on (visit_id, version), and the refusal rolls this request back)."""
    db.session.add(report)
    try:
        db.session.flush()
    except IntegrityError:
        raise NotNow(taken) from None


def _attach_photos(visit: Visit, report: VisitReport) -> None:
    db.session.execute(update(ReportPhoto).where(ReportPhoto.visit_id == visit.id, ReportPhoto.report_id.is_(None))
                       .values(report_id=report.id).execution_options(synchronize_session=False))


def sent_photos(visit: Visit, report: VisitReport) -> list[ReportPhoto]:
    """The photos of a report version: those sent with it and with the versions before it."""
    versions = {r.id: r.version for r in visit.reports}
    return [p for p in visit.photos if p.report_id is not None and versions.get(p.report_id, 0) <= report.version]


def pending_photos(visit: Visit) -> list[ReportPhoto]:
    return [p for p in visit.photos if p.report_id is None]


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=EMAIL_PHOTO_SALT)


def photo_links(report: VisitReport) -> list[str]:
    """Signed, expiring links to the thumbnails of a report's photos, for its email (mail clients have no session)."""
    ids = db.session.scalars(select(ReportPhoto.id).join(VisitReport, VisitReport.id == ReportPhoto.report_id)
                             .where(ReportPhoto.visit_id == report.visit_id, VisitReport.version <= report.version)
                             .order_by(ReportPhoto.id)).all()
    signer = _signer()
    return [external_url("visits.emailed_photo", token=signer.dumps(photo_id)) for photo_id in ids]


def emailed_photo(token: str) -> ReportPhoto | None:
    """The sent photo a report email's signed link names, while the link is fresh and the business shows clients
    their visit reports (switched off, the photos answer 404 as the portal's do)."""
    if not get_settings().portal_visit_reports:
        return None
    try:
        photo_id = _signer().loads(token, max_age=EMAIL_PHOTO_DAYS * 86400)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(photo_id, int):
        return None
    return db.session.scalar(select(ReportPhoto).where(ReportPhoto.id == photo_id, ReportPhoto.report_id.is_not(None)))


def load_photo(photo_id: int, viewer: StaffUser | ClientLogin) -> ReportPhoto | None:
    """A visit photo, if `viewer` may see it: managers any, the visit's sitter hers, a client the sent photos of
    their own visits (while the business shows visit reports)."""
    query = select(ReportPhoto).join(Visit, Visit.id == ReportPhoto.visit_id).where(ReportPhoto.id == photo_id)
    if not viewer.is_staff:
        if not get_settings().portal_visit_reports:
            return None
        query = query.where(Visit.client_id == viewer.client_id, ReportPhoto.report_id.is_not(None))
    elif not viewer.can_manage:
        query = query.where(Visit.sitter_id == viewer.id)
    return db.session.scalar(query)


def client_reports(client_id: int, limit: int = 50, visit_id: int | None = None) -> list[Visit]:
    """A client's visits that have a report, newest first, with the report and photos loaded."""
    has_report = select(VisitReport.id).where(VisitReport.visit_id == Visit.id).exists()
    query = (select(Visit).where(Visit.client_id == client_id, has_report)
             .order_by(Visit.starts_at.desc(), Visit.id.desc()).limit(limit)
             .options(joinedload(Visit.service).load_only(Service.name),
                      joinedload(Visit.sitter).load_only(StaffUser.first_name, StaffUser.last_name),
                      selectinload(Visit.pets).load_only(Pet.name),
                      selectinload(Visit.reports).joinedload(VisitReport.created_by),
                      selectinload(Visit.photos)))
    if visit_id is not None:
        query = query.where(Visit.id == visit_id)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class ReportLine:
    """One sent report in a staff list, read as plain columns."""

    visit_id: int
    day: date
    service: str
    sitter_id: int | None
    sitter: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    versions: int
    sent_at: datetime


def recent_for_client(client_id: int, limit: int = 5) -> list[ReportLine]:
    """The client's latest sent reports (one line per visit, with its number of versions), newest first, for the
    staff profile: one query that reads the report index, whatever the number of the client's visits."""
    rows = db.session.execute(_RECENT_REPORTS, {"client_id": client_id, "limit": limit}).all()
    return [ReportLine(*row[:4], row[4] or "", *row[5:]) for row in rows]


# Built once: making this statement cost ten times running it (1.4 ms against 0.1).
_EVERY_VERSION = aliased(VisitReport)
_RECENT_REPORTS = (
    select(Visit.id, Visit.day, Service.name, Visit.sitter_id, StaffUser.first_name, Visit.checked_in_at,
           Visit.checked_out_at,
           select(func.count(_EVERY_VERSION.id)).where(_EVERY_VERSION.visit_id == Visit.id).scalar_subquery(),
           VisitReport.created_at)
    .select_from(VisitReport)
    .join(Visit, Visit.id == VisitReport.visit_id)
    .join(Service, Service.id == Visit.service_id)
    .outerjoin(StaffUser, StaffUser.id == Visit.sitter_id)
    .where(VisitReport.client_id == bindparam("client_id"), VisitReport.version == 1)
    .order_by(VisitReport.created_at.desc(), VisitReport.id.desc()).limit(bindparam("limit"))
)


def save_checklist(service: Service, lines: list[tuple[int | None, str, bool]]) -> None:
    """A service's report checklist as staff set it: (item id or None for a new one, label, required), in order.

    Items left out are retired, not deleted: reports keep their own copy of the card."""
    errors = {}
    seen = set()
    filled = 0
    for position, (item_id, label, _required) in enumerate(lines):
        label = " ".join((label or "").split())
        filled += bool(label)
        if filled > CHECKLIST_LINES_MAX and label:
            errors[f"label_{position}"] = _("A checklist keeps at most %(num)d lines.", num=CHECKLIST_LINES_MAX)
            break
        if len(label) > CHECKLIST_LABEL_MAX:
            errors[f"label_{position}"] = _("Keep it under %(num)d characters.", num=CHECKLIST_LABEL_MAX)
        elif label and label.lower() in seen:
            errors[f"label_{position}"] = _("This line is already on the card.")
        seen.add(label.lower())
    if errors:
        raise FieldErrors(errors)
    existing = {item.id: item for item in db.session.scalars(
        select(ChecklistItem).where(ChecklistItem.service_id == service.id, ChecklistItem.active.is_(True)))}
    kept = set()
    position = 0
    for item_id, label, required in lines:
        label = " ".join((label or "").split())
        if not label:
            continue
        # An item is one line of the card: should its id come twice, the second line is a new item.
        item = existing.get(item_id) if item_id and item_id not in kept else None
        if item is None:
            item = ChecklistItem(service_id=service.id, active=True)
            db.session.add(item)
        item.label, item.required, item.position = label, bool(required), position
        position += 1
        if item.id:
            kept.add(item.id)
    for item_id, item in existing.items():
        if item_id not in kept:
            item.active = False
    db.session.expire(service, ["checklist"])
