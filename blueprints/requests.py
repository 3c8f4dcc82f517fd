"""The staff request queue (owners and managers): approve, partly approve or decline visit requests."""
from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user

from access import manager_required, request_or_404
from filters import local_zone
from filters import gettext as _
from filters import lazy_gettext as _l
from forms.errors import show_errors
from forms.visits import DecisionForm, sitter_choices
from models import RequestStatus, VisitRequest, VisitStatus, as_utc
from rendering import done, render_page, submit
from services import keys, visits
from services.errors import DomainError, FieldErrors

bp = Blueprint("requests", __name__, url_prefix="/requests")

STATUS_FILTERS = [("pending", _l("Waiting for approval")), ("approved", _l("Approved")),
                  ("partial", _l("Partly approved")), ("declined", _l("Declined")), ("all", _l("All"))]
# Flashed, so made plain strings (str) where they are used: the session cannot keep a lazy string.
DECIDED = {RequestStatus.APPROVED: _l("Approved: the visits are on the schedule; the client and the sitter are "
                                      "emailed."),
           RequestStatus.PARTIAL: _l("Partly approved: the client and the sitter are emailed which visits are booked."),
           RequestStatus.DECLINED: _l("Declined: the client is emailed the reason.")}


def build_decision_form(visit_request: VisitRequest) -> DecisionForm:
    """The decision form: one row per visit still requested, times in local time, prices as typed."""
    zone = local_zone()
    waiting = [v for v in visit_request.visits if v.status == VisitStatus.REQUESTED]
    if request.method == "POST":
        form = DecisionForm()
    else:
        form = DecisionForm(data={"visits": [
            {"visit_id": str(v.id), "approve": True, "start": as_utc(v.starts_at).astimezone(zone).time(),
             "end": as_utc(v.ends_at).astimezone(zone).time(), "price": v.price_cents} for v in waiting]})
        suggested = visits.suggested_sitter(visit_request.client)
        form.sitter_id.data = suggested.id if suggested else 0
    form.sitter_id.choices = sitter_choices(visits.sitter_choices(visit_request.client))
    by_id = {str(v.id): v for v in waiting}
    form.rows = [(entry, by_id.get(entry.visit_id.data)) for entry in form.visits if entry.visit_id.data in by_id]
    return form


def _approvals(form: DecisionForm, declining: bool = False) -> list[visits.Approval]:
    return [visits.Approval(int(entry.visit_id.data), entry.approve.data and not declining, entry.start.data,
                            entry.end.data, entry.price.data) for entry, _visit in form.rows]


def _context(visit_request: VisitRequest, form: DecisionForm | None = None, **extra) -> dict:
    """The review: the decision form while pending, with where the chosen sitter is booked elsewhere then."""
    if form is None and visit_request.status == RequestStatus.PENDING:
        form = build_decision_form(visit_request)
    clashes, key_notice = [], ""
    if form is not None:
        clashes = visits.decision_clashes(visit_request, _approvals(form), visits.staff_by_id(form.sitter_id.data))
        key_notice = keys.key_notice(visit_request.client_id, form.sitter_id.data or None)
    return {"item": visit_request, "form": form, "clashes": clashes, "clash_id": "sitter-clashes",
            "key_notice": key_notice, **extra}


# The review, or for htmx the sitter's clashes under the form when a choice changes.
REQUEST_FRAGMENTS = {"request": "requests/_request.html", "sitter-clashes": "schedule/_clashes.html"}


@bp.get("/")
@manager_required
def index():
    status = request.args.get("status", "pending")
    if status not in dict(STATUS_FILTERS):
        status = "pending"
    q = request.args.get("q", "").strip()[:100]
    items = visits.pending_requests(status, q)
    return render_page("requests/index.html", "requests/_list.html", items=items, shown=status, q=q,
                       filters=STATUS_FILTERS)


@bp.get("/<int:request_id>")
@manager_required
def show(request_id: int):
    return render_page("requests/show.html", "requests/_request.html", **_context(request_or_404(request_id)))


def _decide(visit_request: VisitRequest, form: DecisionForm) -> VisitRequest:
    declining = request.form.get("action") == "decline"
    return visits.decide_request(visit_request, current_user, _approvals(form, declining),
                                 visits.staff_by_id(form.sitter_id.data), form.reason.data or "")


def _decided(decided: VisitRequest):
    """Approved: the message repeats where the sitter is booked elsewhere at the time."""
    message = visits.with_clashes(str(DECIDED[decided.status]), visits.visit_clashes(decided.visits))
    return done(message, url_for("requests.show", request_id=decided.id), "requests/_request.html",
                **_context(decided))


@bp.post("/<int:request_id>/decide")
@manager_required
def decide(request_id: int):
    visit_request = request_or_404(request_id)
    if visit_request.status != RequestStatus.PENDING:
        return _already_decided(visit_request, _("This request was already decided."))
    form = build_decision_form(visit_request)
    if request.form.get("action") == "check":  # the sitter or the times changed: only show the clashes
        return render_page("requests/show.html", REQUEST_FRAGMENTS, **_context(visit_request, form, checked=bool(form.sitter_id.data)))

    def again(status: int):
        if isinstance(form.refusal, visits.AlreadyDecided):
            return _already_decided(request_or_404(request_id), form.refusal.message)
        _place_row_errors(form)
        return render_page("requests/show.html", "requests/_request.html", status=status,
                           **_context(request_or_404(request_id), form))

    return submit(form, lambda: _decide(visit_request, form), _decided, again)


def _place_row_errors(form: DecisionForm) -> None:
    """Errors named after a visit (price_12, end_12) go beside that row's field; conflicts above the form.

    `submit` put the service's messages on the form by name; those naming a row move to the row.
    """
    error = form.refusal
    if not isinstance(error, DomainError):
        return
    rows = {entry.visit_id.data: entry for entry, _visit in form.rows}
    if isinstance(error, FieldErrors):
        form.form_errors[:] = []
        rest = {}
        for name, message in error.errors.items():
            field, _, visit_id = name.rpartition("_")
            if field in ("price", "end") and visit_id in rows:
                getattr(rows[visit_id], field).errors = [message]
            else:
                rest[name] = message
        if rest:
            show_errors(form, FieldErrors(rest))
    elif isinstance(error, visits.ConflictError):
        form.form_errors[:0] = [c.message for c in error.conflicts]


def _already_decided(visit_request: VisitRequest, message: str):
    """The loser of a race: 409 and what the winner decided."""
    return render_page("requests/show.html", "requests/_request.html", status=409,
                       **_context(visit_request, notice=message, notice_category="error"))
