"""The staff schedule: month, week and day of all visits; adding visits; cancelling; block-outs; feeds.

Every staff member reads the schedule (sitters start on their own visits); owners and managers
add and cancel visits and mark block-outs.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from access import client_or_404, id_arg, manager_required, or_404, staff_required, visit_or_404
from extensions import db
from filters import business_today, formatted, local_zone, money, ngettext
from filters import gettext as _
from forms.visits import BlockOutForm, CancelForm, MoveForm, ReassignForm, StaffVisitForm, WaiveFeeForm
from models import BlockOut, ClientProfile, InvoiceStatus, Role, Visit, VisitStatus, as_utc
from rendering import conditional, done, render_page, submit
from services import clients, fees, keys, visits
from services.errors import DomainError, FieldErrors
from services.outbox import external_url

bp = Blueprint("schedule", __name__, url_prefix="/schedule")
VIEWS = ("month", "week", "day")


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
    return id_arg("sitter")


def _schedule_context(view: str, day: date, sitter_id: int | None, **extra) -> dict:
    days, prev_day, next_day = _range(view, day)
    first, last = days[0], days[-1]
    shown = visits.calendar_visits(first, last, sitter_id=sitter_id)
    blockouts = visits.blockouts_between(first, last)
    return {"view": view, "day": day, "days": days, "weeks": [days[i:i + 7] for i in range(0, len(days), 7)],
            "visits_by_day": visits.by_day(shown), "blocked": visits.blocked_days(blockouts, first, last),
            "sitter_id": sitter_id, "sitters": visits.sitters(), "prev_day": prev_day, "next_day": next_day,
            "today": business_today(), "count": sum(v.state not in ("cancelled", "declined") for v in shown),
            "key_notices": keys.key_notices(shown, {v.sitter_id: v.sitter for v in shown if v.sitter_id})
            if current_user.can_manage else {},
            "feed_url": external_url("feeds.show", token=current_user.calendar_token),
            "visit_url": url_for("schedule.index") + "visits/", **extra}


def schedule_args(view: str, day: date, sitter_id: int | None) -> dict:
    args = {"view": view, "date": day.isoformat()}
    if sitter_id and current_user.role != Role.SITTER:
        args["sitter"] = sitter_id
    return args


@bp.get("/")
@staff_required()
@conditional
def index():
    view = request.args.get("view", "week")
    view = view if view in VIEWS else "week"
    day = visits.parse_day(request.args.get("date")) or business_today()
    return render_page("schedule/index.html", "schedule/_schedule.html",
                       **_schedule_context(view, day, _sitter_filter(), schedule_args=schedule_args))


def _visit_context(visit: Visit, form: CancelForm | None = None, reassign: ReassignForm | None = None,
                   move: MoveForm | None = None, waive: WaiveFeeForm | None = None, **extra) -> dict:
    """The visit panel: its facts and, for managers while it is scheduled and ahead, the forms that change it;
    for a fee, where it is billed and the form that waives it."""
    context = {"visit": visit, "form": form, "reassign_form": None, "move_form": None, "reassign_clashes": [],
               "move_clashes": [], "checked": "", "opened": "", "key_notice": "", "fee_invoice": None,
               "waive_form": None,
               "visit_key_notice": keys.key_notices([visit]).get(visit.id, "") if current_user.can_manage else "",
               **extra}
    if current_user.can_manage and visit.late_fee_cents > 0:
        context["fee_invoice"] = invoice = fees.fee_invoice(visit)
        if visit.fee_waived_at is None and (invoice is None or invoice.status == InvoiceStatus.DRAFT):
            context["waive_form"] = waive or WaiveFeeForm(formdata=None, prefix="waive")
    if current_user.can_manage and visit.status == VisitStatus.SCHEDULED and visit.open:
        zone = local_zone()
        context["reassign_form"] = reassign or ReassignForm(formdata=None, prefix="reassign", sitter_id=0)
        context["reassign_form"].offer_sitters([(user, tag) for user, tag in visits.sitter_choices(visit.client)
                                                if user.id != visit.sitter_id])
        context["move_form"] = move or MoveForm(
            formdata=None, prefix="move", day=visit.day, window=visit.window,
            start_time=as_utc(visit.starts_at).astimezone(zone).time(),
            end_time=as_utc(visit.ends_at).astimezone(zone).time())
        context["move_form"].offer()
    return context


# The panel, or for htmx one of its parts: the warnings under a form when its choice changes.
VISIT_FRAGMENTS = {"visit": "schedule/_visit.html", "reassign-clashes": "schedule/_clashes.html",
                   "move-clashes": "schedule/_clashes.html"}


def _visit_page(visit: Visit, status: int = 200, **forms):
    return render_page("schedule/visit.html", VISIT_FRAGMENTS, status=status, **_visit_context(visit, **forms))


@bp.get("/visits/<int:visit_id>")
@staff_required()
def show_visit(visit_id: int):
    return _visit_page(visit_or_404(visit_id), form=CancelForm(formdata=None))


@bp.post("/visits/<int:visit_id>/cancel")
@manager_required
def cancel_visit(visit_id: int):
    visit = visit_or_404(visit_id)
    form = CancelForm()
    return submit(form, lambda: visits.cancel_visit(visit, current_user, form.reason.data), _cancelled,
                  lambda status: _refused(visit, form, status, form=form))


def _cancelled(visit: Visit):
    return _changed(visit, _("Cancelled; the client and the sitter are emailed the reason.") if visit.sitter_id
                    else _("Cancelled; the client is emailed the reason."), clashes=False)


def _changed(visit: Visit, message: str, clashes: bool = True):
    """After a change to a visit: the panel with the message, and any clash of its sitter repeated."""
    if clashes:
        message = visits.with_clashes(message, visits.visit_clashes([visit]))
    return done(message, url_for("schedule.show_visit", visit_id=visit.id), "schedule/_visit.html",
                **_visit_context(visit))


def _refused(visit: Visit, sent, status: int, **forms):
    """A change refused: the message beside its field (422), or, when the visit is no longer open, 409 and the
    panel as it is now."""
    if isinstance(sent.refusal, visits.NotChangeable):
        return _visit_page(visit, status=409, form=CancelForm(formdata=None), notice=sent.refusal.message,
                           notice_category="error")
    return _visit_page(visit, status=status, **forms)


@bp.post("/visits/<int:visit_id>/reassign")
@manager_required
def reassign_visit(visit_id: int):
    """Give the visit to another sitter; `action=check` only shows where that sitter is booked at the time."""
    visit = visit_or_404(visit_id)
    form = ReassignForm(prefix="reassign")
    if request.form.get("action") == "check":
        sitter = visits.staff_by_id(form.sitter_id.data)
        clashes = visits.reassign_clashes(visit, sitter)
        return _visit_page(visit, form=CancelForm(formdata=None), reassign=form, reassign_clashes=clashes,
                           clash_id="reassign-clashes", clashes=clashes, checked="reassign" if sitter else "",
                           opened="reassign", key_notice=keys.key_notice(visit.client_id, sitter.id if sitter else None))
    return submit(form, lambda: visits.reassign_visit(visit, visits.staff_by_id(form.sitter_id.data), current_user),
                  lambda changed: _changed(changed, _("Reassigned to %(name)s; the client and both sitters are "
                                                      "emailed.", name=changed.sitter.first_name)),
                  lambda status: _refused(visit, form, status, form=CancelForm(formdata=None), reassign=form))


@bp.post("/visits/<int:visit_id>/move")
@manager_required
def move_visit(visit_id: int):
    """Move the visit to another day or time; `action=check` only shows where its sitter is booked then."""
    visit = visit_or_404(visit_id)
    form = MoveForm(prefix="move")
    if request.form.get("action") == "check":
        clashes = visits.move_clashes(visit, **form.move_values())
        return _visit_page(visit, form=CancelForm(formdata=None), move=form, move_clashes=clashes,
                           clash_id="move-clashes", clashes=clashes, checked="move" if visit.sitter_id else "",
                           opened="move")
    return submit(form, lambda: visits.move_visit(visit, **form.move_values(), staff=current_user),
                  lambda changed: _changed(changed, _("Moved to %(day)s, %(when)s; the client and the sitter are "
                                                      "emailed.", day=formatted(changed.day, "day"),
                                                      when=changed.when)),
                  lambda status: _refused(visit, form, status, form=CancelForm(formdata=None), move=form))


@bp.post("/visits/<int:visit_id>/fee/waive")
@manager_required
def waive_fee(visit_id: int):
    """Waive the visit's late cancellation or no-show fee, with a reason; one on an issued invoice is refused."""
    visit = visit_or_404(visit_id)
    form = WaiveFeeForm(prefix="waive")

    def again(status: int):
        refusal = form.refusal
        if refusal is not None and not isinstance(refusal, FieldErrors):  # on an issued invoice, waived already
            return _visit_page(visit_or_404(visit_id), status=409, notice=refusal.message, notice_category="error")
        return _visit_page(visit_or_404(visit_id), status=status, waive=form)

    return submit(form, lambda: fees.waive_fee(visit, current_user, form.reason.data),
                  lambda changed: _changed(changed, _("Fee of %(fee)s waived; the reason is kept with it.",
                                                      fee=money(changed.late_fee_cents)), clashes=False),
                  again)


def _client_for_new() -> ClientProfile | None:
    client_id = id_arg("client") or id_arg("client", request.form)
    return client_or_404(client_id) if client_id else None


def _new_context(client: ClientProfile | None, form: StaffVisitForm | None, **extra) -> dict:
    q = request.args.get("q", "").strip()[:100]
    matches = []
    if client is None and q:
        matches = clients.search_clients(current_user, clients.ClientQuery(q=q), per_page=10).rows
    return {"client": client, "form": form, "q": q, "matches": matches, "day": request.args.get("day", ""),
            "booking": True, **extra}  # staff book visits; the shared preview says so


def build_staff_form(client: ClientProfile) -> StaffVisitForm:
    form = StaffVisitForm()
    form.offer(visits.active_services(), client.active_pets, visits.parse_day(request.args.get("day")),
               extra_days=1 if request.form.get("action") == "add_day" else 0)
    form.offer_sitters(visits.sitter_choices(client), visits.suggested_sitter(client))
    return form


def _add_visits(client: ClientProfile, form: StaffVisitForm):
    plan = visits.make_plan(client, **form.plan_values())
    return visits.add_visits(client, plan, visits.staff_by_id(form.sitter_id.data), current_user, form.price.data)


def _added(visit_request):
    first = visit_request.visits[0]
    client = visit_request.client.name
    booked = sum(v.status == VisitStatus.SCHEDULED for v in visit_request.visits)
    recorded = len(visit_request.visits) - booked
    said = []
    if booked:
        said.append(ngettext("Added %(num)d visit for %(client)s; the client and the sitter are emailed.",
                             "Added %(num)d visits for %(client)s; the client and the sitter are emailed.", booked,
                             client=client))
    if recorded:
        said.append(ngettext("Recorded %(num)d visit for %(client)s that already happened, as completed.",
                             "Recorded %(num)d visits for %(client)s that already happened, as completed.", recorded,
                             client=client))
    message = visits.with_clashes(" ".join(said), visits.visit_clashes(visit_request.visits))
    return done(message, url_for("schedule.index", view="week", date=first.day.isoformat()))


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def new():
    """Add visits for a client: find the client, then the same choices a client has, plus the sitter."""
    client = _client_for_new()
    if client is None:
        return render_page("schedule/new.html", "schedule/_new.html", **_new_context(None, None))
    form = build_staff_form(client)
    if request.method == "GET" or request.form.get("action", "send") in ("preview", "add_day"):
        return render_page("schedule/new.html", "schedule/_new.html", **_new_context(
            client, form, preview=_try_preview(client, form) if request.method == "POST" else None))

    def again(status: int):
        conflicts = getattr(form.refusal, "conflicts", None)
        preview = visits.Preview(conflicts=conflicts) if conflicts else _try_preview(client, form)
        return render_page("schedule/new.html", "schedule/_new.html", status=status,
                           **_new_context(client, form, preview=preview))

    return submit(form, lambda: _add_visits(client, form), _added, again)


def _try_preview(client: ClientProfile, form: StaffVisitForm):
    try:
        preview = visits.staff_preview(client.id, visits.make_plan(client, **form.plan_values()),
                                       visits.staff_by_id(form.sitter_id.data))
    except DomainError:
        return None
    if form.price.data is not None:
        for planned in preview.visits:
            planned.price_cents = form.price.data
    return preview


@bp.post("/new/preview")
@manager_required
def preview():
    client = or_404(_client_for_new())
    form = build_staff_form(client)
    return render_page("schedule/new.html", "schedule/_preview.html", preview=_try_preview(client, form),
                       **_new_context(client, form))


def _blockout_context(form: BlockOutForm, **extra) -> dict:
    """The block-out form and list; `?shown=<id>` lists the open visits inside a block-out just added."""
    today = business_today()
    upcoming = visits.blockouts_between(today - timedelta(days=30), today + timedelta(days=3 * 366))
    if "affected" not in extra:
        shown = db.session.get(BlockOut, id_arg("shown")) if id_arg("shown") else None
        extra["affected"] = visits.open_visits_inside(shown) if shown else []
    return {"form": form, "items": upcoming, **extra}


def _blockout_added(result):
    blockout, affected = result
    closed = (_("Closed %(day)s.", day=formatted(blockout.starts_on)) if blockout.ends_on == blockout.starts_on
              else _("Closed %(first)s–%(last)s.", first=formatted(blockout.starts_on, "day_month"),
                     last=formatted(blockout.ends_on)))
    inside = (ngettext("%(num)d open visit falls inside it: listed below; its client is emailed.",
                       "%(num)d open visits fall inside it: listed below; their clients are emailed.", len(affected))
              if affected else _("No visits fall inside it."))
    message = _("%(closed)s %(inside)s", closed=closed, inside=inside)
    return done(message, url_for("schedule.blockouts", shown=blockout.id), "schedule/_blockouts.html",
                **_blockout_context(BlockOutForm(formdata=None), affected=affected))


@bp.route("/blockouts", methods=["GET", "POST"])
@manager_required
def blockouts():
    form = BlockOutForm()
    return submit(form, lambda: visits.add_blockout(form.starts_on.data, form.ends_on.data, form.note.data or "",
                                                    current_user), _blockout_added,
                  lambda status: render_page("schedule/blockouts.html", "schedule/_blockouts.html", status=status,
                                             **_blockout_context(form)))


@bp.post("/blockouts/<int:blockout_id>/delete")
@manager_required
def delete_blockout(blockout_id: int):
    blockout = or_404(db.session.get(BlockOut, blockout_id))
    if not FlaskForm().validate_on_submit():
        abort(400)
    visits.delete_blockout(blockout)
    return done(_("Block-out removed: clients can ask for those days again."), url_for("schedule.blockouts"),
                "schedule/_blockouts.html", **_blockout_context(BlockOutForm(formdata=None)))


@bp.post("/feed")
@staff_required()
def reset_feed():
    """A new address for the signed-in staff member's own feed; the old one stops working."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    visits.reset_feed(current_user)
    return done(_("Your calendar feed has a new address; the old one no longer works."), url_for("schedule.index"))
