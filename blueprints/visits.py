"""A visit as it happens, for staff: the sitter's card (check-in, check-out, undo, photos, report) and a
manager's corrections (times, missed, report versions). Each POST answers the re-rendered card for htmx,
or redirects back to it (PRG) without JavaScript. A sitter reaches only the visits assigned to her.
"""
from __future__ import annotations

from datetime import datetime
from urllib.parse import quote_plus

from flask import Blueprint, abort, current_app, request, url_for
from flask_login import current_user

from access import manager_required, or_404, public, staff_required
from blueprints.messages import visit_thread_context
from filters import gettext as _
from filters import business_today, local_datetime, local_zone, money, time_of_day
from forms.checkins import MissedForm, PhotoForm, TapForm, TimesForm, report_form
from models import ReportPhoto, Visit, VisitStatus, as_utc, parse_id
from rendering import done, perform, render_page, send_private_jpeg, submit
from services import checkins, fees, keys, reports
from services.checkins import NotNow
from services.errors import DomainError
from services.settings import get_settings

bp = Blueprint("visits", __name__, url_prefix="/visits")
CARD = "visits/_card.html"


def visit_or_404(visit_id: int) -> Visit:
    return or_404(checkins.load_visit_for_work(visit_id, current_user))


def card_form(visit: Visit, formdata=None, correcting: bool = False):
    """The report form for the card: today's checklist, or the sent version's lines for a correction."""
    sent = visit.report
    prefix = f"v{visit.id}"  # several cards on one page: their fields' ids stay apart
    if correcting and sent is not None:
        lines = [(i, line["label"], line["required"], line["done"]) for i, line in enumerate(sent.checklist)]
        form = report_form(lines, formdata=formdata, prefix=prefix, data={"notes": sent.notes, "mood": sent.mood})
        form.reason.flags.required = True  # a correction says why (services.reports.correct_report)
        return form
    lines = [(item.id, item.label, item.required, False) for item in reports.checklist_of(visit)]
    return report_form(lines, formdata=formdata, prefix=prefix)


def photo_form(visit: Visit, submitted: bool = False) -> PhotoForm:
    prefix = f"v{visit.id}"
    return PhotoForm(prefix=prefix) if submitted else PhotoForm(formdata=None, prefix=prefix)


def times_form_for(visit: Visit) -> TimesForm:
    """The correction form, filled with the recorded times (or the window's) in local time."""
    zone = local_zone()
    start = as_utc(visit.checked_in_at or visit.starts_at).astimezone(zone).replace(tzinfo=None, second=0,
                                                                                    microsecond=0)
    end = visit.checked_out_at or (None if visit.checked_in_at else visit.ends_at)
    end = as_utc(end).astimezone(zone).replace(tzinfo=None, second=0, microsecond=0) if end else None
    return TimesForm(formdata=None, data={"checked_in_at": start, "checked_out_at": end})


def iso_time(text: str | None) -> str:
    return local_datetime(datetime.fromisoformat(text)) if text else ""


def staff_photo_url(photo: ReportPhoto, thumb: int = 0) -> str:
    return url_for("visits.photo", report_photo_id=photo.id, thumb=thumb or None)


def card_context(visit: Visit, key_notice: str | None = None, **extra) -> dict:
    """What the card shows and offers, computed on the server (`key_notice` when the page knows it already)."""
    settings = get_settings()
    if key_notice is None:
        key_notice = keys.key_notices([visit]).get(visit.id, "") if current_user.can_manage else ""
    correcting = extra.pop("correcting", False)
    thread = extra.pop("thread", False)
    lazy_thread = extra.pop("lazy_thread", False)
    # The report's forms only where the card shows them (a day of cards builds none for visits to come).
    writing = visit.status in (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED) and (correcting or not visit.reports)
    context = {
        "visit": visit, "settings": settings, "photo_form": photo_form(visit) if writing else None,
        "report_form": card_form(visit, correcting=correcting) if writing else None, "correcting": correcting,
        "can_undo": checkins.can_undo(visit, current_user), "undo_minutes": checkins.undo_minutes(),
        "check_in": checkins.check_in_window(visit), "check_in_from": checkins.opens_at(visit),
        "pending": reports.pending_photos(visit), "mine": visit.sitter_id == current_user.id,
        "map_url": map_url(visit), "times_form": None, "missed_form": None, "times_form_for": times_form_for,
        "missed_form_for": lambda: MissedForm(formdata=None), "iso_time": iso_time,
        "photos_of": reports.sent_photos, "photo_url": staff_photo_url, "today": business_today(),
        "code_day": checkins.code_day(visit),
        "key_notice": key_notice, "no_show_fee_for": fees.no_show_fee,
        "thread_box": visit_thread_context(visit, thread, lazy=lazy_thread),
    }
    context.update(extra)
    return context


def map_url(visit: Visit) -> str:
    """A map search for the client's address (PAWTAL_MAP_SEARCH_URL), which a phone opens in its maps app."""
    address = ", ".join(visit.client.address_lines)
    return current_app.config["MAP_SEARCH_URL"].format(query=quote_plus(address)) if address else ""


def _card(visit: Visit, status: int = 200, **extra):
    return render_page("visits/show.html", CARD, status=status, **card_context(visit, **extra))


def _back(visit: Visit) -> str:
    return url_for("visits.show", visit_id=visit.id)


@bp.get("/<int:visit_id>")
@staff_required()
def show(visit_id: int):
    """The visit's card: everything the sitter needs at the door, and the report."""
    visit = visit_or_404(visit_id)
    return _card(visit, correcting=request.args.get("correct") == "1" and visit.report is not None)


def _tap(visit_id: int, work):
    visit = visit_or_404(visit_id)
    form = TapForm()
    if not form.validate_on_submit():
        abort(400)
    position = checkins.read_position(form.latitude.data, form.longitude.data, form.accuracy.data)

    def refused(error: DomainError):
        return _card(visit_or_404(visit_id), 409 if isinstance(error, NotNow) else 422, problem=error.message)

    return perform(lambda: work(visit, current_user, position),
                   lambda changed: done(_message(changed), _back(changed), CARD, **card_context(changed)),
                   refused)


def _message(visit: Visit) -> str:
    if visit.status == VisitStatus.IN_PROGRESS:
        return _("Checked in at %(time)s.", time=time_of_day(visit.checked_in_at))
    if visit.status == VisitStatus.COMPLETED:
        return _("Checked out at %(time)s.", time=time_of_day(visit.checked_out_at))
    return _("Check-in taken back.")


@bp.post("/<int:visit_id>/check-in")
@staff_required()
def check_in(visit_id: int):
    return _tap(visit_id, checkins.check_in)


@bp.post("/<int:visit_id>/check-out")
@staff_required()
def check_out(visit_id: int):
    return _tap(visit_id, checkins.check_out)


@bp.post("/<int:visit_id>/undo")
@staff_required()
def undo(visit_id: int):
    visit = visit_or_404(visit_id)
    if not TapForm().validate_on_submit():
        abort(400)
    message = (_("Check-out taken back: the visit is under way again.") if visit.status == VisitStatus.COMPLETED
               else _("Check-in taken back."))
    return perform(lambda: checkins.undo(visit, current_user),
                   lambda undone: done(message, _back(undone), CARD, **card_context(undone)),
                   lambda error: _card(visit_or_404(visit_id), 409, problem=error.message))


PHOTOS = "visits/_photos.html"


def _photos(visit_id: int, status: int = 200, **extra):
    """The photo widget (htmx) or the whole card page; the widget is answered even for a visit that takes none."""
    visit = visit_or_404(visit_id)
    extra.setdefault("photo_form", photo_form(visit))
    return render_page("visits/show.html", PHOTOS, status=status, **card_context(visit, **extra))


@bp.post("/<int:visit_id>/photos")
@staff_required()
def add_photo(visit_id: int):
    visit = visit_or_404(visit_id)
    form = photo_form(visit, submitted=True)

    def again(status: int):
        if isinstance(form.refusal, NotNow):
            return _photos(visit_id, 409, problem=form.refusal.message)
        return _photos(visit_id, status, photo_form=form)

    return submit(form, lambda: reports.add_photo(visit, current_user, form.photo.data),
                  lambda photo: done(_("Photo added: it goes with the report."), _back(visit), PHOTOS,
                                     **card_context(visit_or_404(visit_id))),
                  again)


@bp.post("/<int:visit_id>/photos/<int:report_photo_id>/delete")
@staff_required()
def remove_photo(visit_id: int, report_photo_id: int):
    visit = visit_or_404(visit_id)
    photo = or_404(next((p for p in visit.photos if p.id == report_photo_id), None))
    if not TapForm().validate_on_submit():
        abort(400)
    return perform(lambda: reports.remove_photo(photo, current_user),
                   lambda _none: done(_("Photo removed."), _back(visit), PHOTOS,
                                      **card_context(visit_or_404(visit_id))),
                   lambda error: _photos(visit_id, 409, problem=error.message))


@bp.post("/<int:visit_id>/report")
@staff_required()
def send_report(visit_id: int):
    """Send the report (it completes the visit), or, with `correct`, a corrected version of it."""
    visit = visit_or_404(visit_id)
    correcting = request.form.get("correct") == "1" and visit.report is not None
    form = card_form(visit, formdata=request.form, correcting=correcting)  # the request's fields, prefixed
    if correcting:
        work = lambda: reports.correct_report(visit, current_user, form.ticked(), form.notes.data, form.mood.data,  # noqa: E731
                                              form.reason.data, corrects=parse_id(request.form.get("version")))
        message = _("Correction sent: the client has the new version; the first one is kept.")
    else:
        work = lambda: reports.send_report(visit, current_user, form.ticked(), form.notes.data, form.mood.data)  # noqa: E731
        message = _("Report sent to the client. The visit is complete.")

    def again(status: int):
        refusal = form.refusal
        fresh = visit_or_404(visit_id)
        if isinstance(refusal, NotNow):
            return _card(fresh, 409, problem=refusal.message)
        return _card(fresh, status, report_form=form, correcting=correcting)

    return submit(form, work, lambda report: done(message, _back(visit), CARD, **card_context(visit_or_404(visit_id))),
                  again)


@bp.post("/<int:visit_id>/code")
@staff_required()
def show_code(visit_id: int):
    """The lockbox code, for the visit's sitter on its day; every showing is logged."""
    visit = visit_or_404(visit_id)
    if not TapForm().validate_on_submit():
        abort(400)
    return perform(lambda: keys.reveal_code(visit, current_user),
                   lambda code: _card(visit_or_404(visit_id), code=code),
                   lambda error: _card(visit_or_404(visit_id), 409, problem=error.message))


def _refused(visit_id: int, form, status: int, **forms):
    """A manager's form again: beside its fields, or, when the visit's state refused it (NotNow), 409 and the
    message on the card (the form may not be on it: a cancelled visit has no times to correct)."""
    if isinstance(form.refusal, NotNow):
        return _card(visit_or_404(visit_id), 409, problem=form.refusal.message)
    return _card(visit_or_404(visit_id), status, **forms)


@bp.post("/<int:visit_id>/times")
@manager_required
def correct_times(visit_id: int):
    visit = visit_or_404(visit_id)
    form = TimesForm()
    return submit(form, lambda: checkins.correct_times(visit, current_user, form.utc(form.checked_in_at),
                                                       form.utc(form.checked_out_at), form.reason.data),
                  lambda changed: done(_("Times corrected; the times they replace are kept beside them."),
                                       _back(changed), CARD, **card_context(changed)),
                  lambda status: _refused(visit_id, form, status, times_form=form))


@bp.post("/<int:visit_id>/missed")
@manager_required
def mark_missed(visit_id: int):
    visit = visit_or_404(visit_id)
    form = MissedForm()
    return submit(form, lambda: checkins.mark_missed(visit, current_user, form.reason.data,
                                                     no_show=form.no_show.data),
                  lambda changed: done(_missed_message(changed), _back(changed), CARD, **card_context(changed)),
                  lambda status: _refused(visit_id, form, status, missed_form=form))


def _missed_message(visit: Visit) -> str:
    if visit.late_fee_cents:
        return _("Marked as missed, a no-show: the fee of %(fee)s goes on the client's next invoice.",
                 fee=money(visit.late_fee_cents))
    return _("Marked as missed.")


def send_visit_photo(photo: ReportPhoto, thumb: bool):
    return send_private_jpeg(reports.photo_path(photo, thumb))


@bp.get("/photos/<int:report_photo_id>")
@staff_required()
def photo(report_photo_id: int):
    """A visit photo (?thumb=1 for its thumbnail), for managers and the visit's sitter."""
    return send_visit_photo(or_404(reports.load_photo(report_photo_id, current_user)),
                            request.args.get("thumb") == "1")


@bp.get("/emailed/<token>.jpg")
@public
def emailed_photo(token: str):
    """A report email's thumbnail: the link is signed and expires; it shows the thumbnail only."""
    photo = or_404(reports.emailed_photo(token))
    return send_visit_photo(photo, thumb=True)

