"""The staff request queue (owners and managers): approve, partly approve or decline visit requests."""
from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import Length, Optional

from access import manager_required
from blueprints.forms import cents_to_text, parse_money, show_errors
from extensions import db
from models import RequestStatus, VisitRequest, VisitStatus, as_utc
from rendering import done, render_page
from services import visits
from services.errors import DomainError, FieldErrors

bp = Blueprint("requests", __name__, url_prefix="/requests")

STATUS_FILTERS = [("pending", "Waiting for approval"), ("approved", "Approved"), ("partial", "Partly approved"),
                  ("declined", "Declined"), ("all", "All")]


class VisitDecision(Form):
    visit_id = HiddenField()
    approve = BooleanField("Approve", default=True)
    start = TimeField("From", validators=[Optional()])
    end = TimeField("To", validators=[Optional()])
    price = StringField("Price")


class DecisionForm(FlaskForm):
    visits = FieldList(FormField(VisitDecision))
    sitter_id = SelectField("Sitter", coerce=int, validate_choice=False)
    reason = TextAreaField("Why some or all are declined", validators=[Length(max=2000)],
                           description="The client reads this in the email.")


def request_or_404(request_id: int) -> VisitRequest:
    visit_request = visits.request_or_none(request_id)
    if visit_request is None:
        abort(404)
    return visit_request


def build_decision_form(visit_request: VisitRequest) -> DecisionForm:
    """The decision form: one row per visit still requested, times in local time, prices as typed."""
    zone = visits.business_zone()
    waiting = [v for v in visit_request.visits if v.status == VisitStatus.REQUESTED]
    if request.method == "POST":
        form = DecisionForm()
    else:
        form = DecisionForm(data={"visits": [
            {"visit_id": str(v.id), "approve": True, "start": as_utc(v.starts_at).astimezone(zone).time(),
             "end": as_utc(v.ends_at).astimezone(zone).time(), "price": cents_to_text(v.price_cents)} for v in waiting]})
        suggested = visits.suggested_sitter(visit_request.client)
        form.sitter_id.data = suggested.id if suggested else 0
    choices = visits.sitter_choices(visit_request.client)
    form.sitter_id.choices = [(0, "Choose a sitter")] + [
        (user.id, f"{user.name} ({tag})" if tag else user.name) for user, tag in choices]
    by_id = {str(v.id): v for v in waiting}
    form.rows = [(entry, by_id.get(entry.visit_id.data)) for entry in form.visits if entry.visit_id.data in by_id]
    return form


def _context(visit_request: VisitRequest, form: DecisionForm | None = None, **extra) -> dict:
    if form is None and visit_request.status == RequestStatus.PENDING:
        form = build_decision_form(visit_request)
    return {"item": visit_request, "form": form, "window_label": visits.window_label, **extra}


@bp.get("/")
@manager_required
def index():
    status = request.args.get("status", "pending")
    if status not in dict(STATUS_FILTERS):
        status = "pending"
    q = request.args.get("q", "").strip()[:100]
    items = visits.pending_requests(status, q)
    return render_page("requests/index.html", "requests/_list.html", items=items, shown=status, q=q,
                       filters=STATUS_FILTERS, window_label=visits.window_label)


@bp.get("/<int:request_id>")
@manager_required
def show(request_id: int):
    visit_request = request_or_404(request_id)
    return render_page("requests/show.html", "requests/_request.html", **_context(visit_request))


@bp.post("/<int:request_id>/decide")
@manager_required
def decide(request_id: int):
    visit_request = request_or_404(request_id)
    if visit_request.status != RequestStatus.PENDING:
        return _already_decided(visit_request, "This request was already decided.")
    form = build_decision_form(visit_request)
    if not form.validate_on_submit():
        return render_page("requests/show.html", "requests/_request.html", status=422, **_context(visit_request, form))
    declining = request.form.get("action") == "decline"
    try:
        approvals = [
            visits.Approval(int(entry.visit_id.data), entry.approve.data and not declining, entry.start.data,
                            entry.end.data, _price(entry))
            for entry, _visit in form.rows
        ]
        sitter = visits.staff_by_id(form.sitter_id.data)
        visits.decide_request(visit_request, current_user, approvals, sitter, form.reason.data or "")
    except visits.AlreadyDecided as error:
        return _already_decided(request_or_404(request_id), error.message)
    except DomainError as error:
        db.session.rollback()
        _show_row_errors(form, error)
        return render_page("requests/show.html", "requests/_request.html", status=422,
                           **_context(request_or_404(request_id), form))
    visit_request = request_or_404(request_id)
    message = {RequestStatus.APPROVED: "Approved: the visits are on the schedule and the client is emailed.",
               RequestStatus.PARTIAL: "Partly approved: the client is emailed which visits are booked.",
               RequestStatus.DECLINED: "Declined: the client is emailed the reason."}[visit_request.status]
    return done(message, url_for("requests.show", request_id=request_id), "requests/_request.html",
                **_context(visit_request))


def _price(entry) -> int | None:
    try:
        return parse_money(entry.price.data)
    except ValueError as error:
        raise FieldErrors({f"price_{entry.visit_id.data}": str(error)}) from None


def _show_row_errors(form: DecisionForm, error: DomainError) -> None:
    """Errors named after a visit (price_12, end_12) go beside that row's field; the rest as usual."""
    rows = {entry.visit_id.data: entry for entry, _visit in form.rows}
    if isinstance(error, FieldErrors):
        rest = {}
        for name, message in error.errors.items():
            field, _, visit_id = name.rpartition("_")
            if field in ("price", "end") and visit_id in rows:
                getattr(rows[visit_id], field).errors = [message]
            else:
                rest[name] = message
        if rest:
            show_errors(form, FieldErrors(rest))
        return
    if isinstance(error, visits.ConflictError):
        form.form_errors.extend(c.message for c in error.conflicts)
    show_errors(form, error)


def _already_decided(visit_request: VisitRequest, message: str):
    """The loser of a race: 409 and what the winner decided."""
    return render_page("requests/show.html", "requests/_request.html", status=409,
                       **_context(visit_request, notice=message, notice_category="error"))
