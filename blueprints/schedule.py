"""The staff schedule: month, week and day of all visits; adding visits; cancelling; block-outs; feeds.

Every staff member reads the schedule (sitters start on their own visits); owners and managers
add and cancel visits and mark block-outs.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from access import manager_required, staff_required
from blueprints.forms import parse_money, show_errors
from blueprints.visit_forms import StaffVisitForm, build_request_form, plan_from
from extensions import db
from filters import business_today
from models import BlockOut, ClientProfile, Role, Visit
from rendering import done, render_page
from services.outbox import external_url
from services import clients, visits
from services.errors import DomainError, FieldErrors

bp = Blueprint("schedule", __name__, url_prefix="/schedule")
VIEWS = ("month", "week", "day")


class CancelForm(FlaskForm):
    reason = TextAreaField("Why is it cancelled?", validators=[InputRequired(message="Say why (the client reads it)."),
                                                               Length(max=2000)])


class BlockOutForm(FlaskForm):
    starts_on = DateField("First day", validators=[InputRequired(message="Choose the first day.")])
    ends_on = DateField("Last day", validators=[Optional()], description="Leave blank for one day.")
    note = StringField("Note for clients", validators=[Length(max=300)], description="For example: Closed for the holidays.")


def _range(view: str, day: date) -> tuple[list[date], date, date]:
    """The days a view shows, and the dates its previous and next links go to."""
    if view == "day":
        return [day], day - timedelta(days=1), day + timedelta(days=1)
    if view == "week":
        week = visits.week_of(day)
        return week, day - timedelta(days=7), day + timedelta(days=7)
    month = day.replace(day=1)
    weeks = visits.month_weeks(month)
    return [d for w in weeks for d in w], visits.shift_month(month, -1), visits.shift_month(month, 1)


def _sitter_filter() -> int | None:
    """Whose visits are shown: a sitter's own, always; for managers the sitter asked for, or everyone's."""
    if current_user.role == Role.SITTER:
        return current_user.id
    value = request.args.get("sitter", "")
    return int(value) if value.isdigit() and int(value) else None


def _schedule_context(view: str, day: date, sitter_id: int | None, **extra) -> dict:
    days, prev_day, next_day = _range(view, day)
    first, last = days[0], days[-1]
    shown = visits.calendar_visits(first, last, sitter_id=sitter_id)
    blockouts = visits.blockouts_between(first, last)
    return {"view": view, "day": day, "days": days, "weeks": [days[i:i + 7] for i in range(0, len(days), 7)],
            "visits_by_day": visits.by_day(shown), "blocked": visits.blocked_days(blockouts, first, last),
            "sitter_id": sitter_id, "sitters": visits.sitters(), "prev_day": prev_day, "next_day": next_day,
            "today": business_today(), "window_label": visits.window_label, "count": len(shown),
            "feed_url": external_url("feeds.show", token=current_user.calendar_token),
            "visit_url": url_for("schedule.index") + "visits/", **extra}


def schedule_args(view: str, day: date, sitter_id: int | None) -> dict:
    args = {"view": view, "date": day.isoformat()}
    if sitter_id and current_user.role != Role.SITTER:
        args["sitter"] = sitter_id
    return args


@bp.get("/")
@staff_required()
def index():
    view = request.args.get("view", "week")
    view = view if view in VIEWS else "week"
    day = visits.parse_day(request.args.get("date")) or business_today()
    return render_page("schedule/index.html", "schedule/_schedule.html",
                       **_schedule_context(view, day, _sitter_filter(), schedule_args=schedule_args))


def visit_or_404(visit_id: int) -> Visit:
    """A visit on the schedule; a sitter sees only the visits assigned to them."""
    visit = db.session.get(Visit, visit_id)
    if visit is None or (current_user.role == Role.SITTER and visit.sitter_id != current_user.id):
        abort(404)
    return visit


@bp.get("/visits/<int:visit_id>")
@staff_required()
def show_visit(visit_id: int):
    visit = visit_or_404(visit_id)
    return render_page("schedule/visit.html", "schedule/_visit.html", visit=visit, form=CancelForm(formdata=None),
                       window_label=visits.window_label)


@bp.post("/visits/<int:visit_id>/cancel")
@manager_required
def cancel_visit(visit_id: int):
    visit = visit_or_404(visit_id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            visits.cancel_visit(visit, current_user, form.reason.data)
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            return done("Cancelled; the client is emailed the reason.", url_for("schedule.show_visit", visit_id=visit.id),
                        "schedule/_visit.html", visit=visit, form=None, window_label=visits.window_label)
    return render_page("schedule/visit.html", "schedule/_visit.html", status=422, visit=visit, form=form,
                       window_label=visits.window_label)


def _client_for_new() -> ClientProfile | None:
    client_id = request.args.get("client", type=int) or request.form.get("client", type=int)
    if not client_id:
        return None
    client = clients.load_client(client_id, current_user)
    if client is None:
        abort(404)
    return client


def _new_context(client: ClientProfile | None, form: StaffVisitForm | None, **extra) -> dict:
    q = request.args.get("q", "").strip()[:100]
    matches = []
    if client is None and q:
        matches = clients.search_clients(current_user, clients.ClientQuery(q=q), per_page=10).rows
    return {"client": client, "form": form, "q": q, "matches": matches, "day": request.args.get("day", ""), **extra}


def build_staff_form(client: ClientProfile) -> StaffVisitForm:
    form = build_request_form(client, StaffVisitForm, day=visits.parse_day(request.args.get("day")),
                              extra_days=1 if request.form.get("action") == "add_day" else 0)
    choices = visits.sitter_choices(client)
    form.sitter_id.choices = [(0, "Choose a sitter")] + [
        (user.id, f"{user.name} ({tag})" if tag else user.name) for user, tag in choices]
    if request.method == "GET":
        suggested = visits.suggested_sitter(client)
        form.sitter_id.data = suggested.id if suggested else 0
    return form


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def new():
    """Add visits for a client: find the client, then the same choices a client has, plus the sitter."""
    client = _client_for_new()
    if client is None:
        return render_page("schedule/new.html", "schedule/_new.html", **_new_context(None, None))
    form = build_staff_form(client)
    action = request.form.get("action", "send")
    if request.method == "GET" or action in ("preview", "add_day"):
        return render_page("schedule/new.html", "schedule/_new.html", **_new_context(
            client, form, preview=_try_preview(client, form) if request.method == "POST" else None))
    if form.validate_on_submit():
        try:
            price = _staff_price(form)
            sitter = visits.staff_by_id(form.sitter_id.data)
            visit_request = visits.add_visits(client, plan_from(form, client), sitter, current_user, price)
        except visits.ConflictError as error:
            db.session.rollback()
            show_errors(form, error)
            return render_page("schedule/new.html", "schedule/_new.html", status=422,
                               **_new_context(client, form, preview=visits.Preview(conflicts=error.conflicts)))
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            first = visit_request.visits[0]
            count = len(visit_request.visits)
            return done(f"Added {count} visit{'s' if count != 1 else ''} for {client.name}; the client is emailed.",
                        url_for("schedule.index", view="week", date=first.day.isoformat()))
    return render_page("schedule/new.html", "schedule/_new.html", status=422,
                       **_new_context(client, form, preview=_try_preview(client, form)))


def _staff_price(form: StaffVisitForm) -> int | None:
    try:
        return parse_money(form.price.data)
    except ValueError as error:
        raise FieldErrors({"price": str(error)}) from None


def _try_preview(client: ClientProfile, form):
    try:
        preview = visits.preview(client.id, plan_from(form, client))
        price = _staff_price(form)
    except DomainError:
        return None
    if price is not None:
        for planned in preview.visits:
            planned.price_cents = price
    return preview


@bp.post("/new/preview")
@manager_required
def preview():
    client = _client_for_new()
    if client is None:
        abort(404)
    form = build_staff_form(client)
    return render_page("schedule/new.html", "portal/_request_preview.html", preview=_try_preview(client, form),
                       **_new_context(client, form))


@bp.route("/blockouts", methods=["GET", "POST"])
@manager_required
def blockouts():
    form = BlockOutForm()
    if form.validate_on_submit():
        try:
            blockout, affected = visits.add_blockout(form.starts_on.data, form.ends_on.data, form.note.data or "",
                                                     current_user)
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            message = (f"Closed {blockout.starts_on:%-d %b}–{blockout.ends_on:%-d %b %Y}. "
                       + (f"{len(affected)} open visits fall inside it: listed below; their clients are emailed."
                          if affected else "No visits fall inside it."))
            return render_page("schedule/blockouts.html", "schedule/_blockouts.html", **_blockout_context(
                BlockOutForm(formdata=None), affected=affected, notice=message))
    status = 422 if request.method == "POST" else 200
    return render_page("schedule/blockouts.html", "schedule/_blockouts.html", status=status, **_blockout_context(form))


def _blockout_context(form: BlockOutForm, **extra) -> dict:
    today = business_today()
    upcoming = visits.blockouts_between(today - timedelta(days=30), today + timedelta(days=3 * 366))
    return {"form": form, "items": upcoming, "window_label": visits.window_label, **extra}


@bp.post("/blockouts/<int:blockout_id>/delete")
@manager_required
def delete_blockout(blockout_id: int):
    blockout = db.session.get(BlockOut, blockout_id)
    if blockout is None:
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    visits.delete_blockout(blockout)
    return done("Block-out removed: clients can ask for those days again.", url_for("schedule.blockouts"),
                "schedule/_blockouts.html", **_blockout_context(BlockOutForm(formdata=None)))


@bp.post("/feed")
@staff_required()
def reset_feed():
    """A new address for the signed-in staff member's own feed; the old one stops working."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    visits.reset_feed(current_user)
    return done("Your calendar feed has a new address; the old one no longer works.", url_for("schedule.index"))

