"""The client's calendar: their visits month by month, requesting visits, a visit's panel, and the feed."""
from __future__ import annotations

from datetime import date

from flask import abort, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from access import client_required, feature_required, my_client, onboarded, viewer, visit_or_404
from blueprints.messages import prepared
from blueprints.portal.base import bp, not_ready, portal_context
from filters import business_today, money, month_param, ngettext
from filters import gettext as _
from forms.messages import visit_form
from forms.visits import RequestForm
from models import ClientProfile
from rendering import conditional, done, perform, render_page, submit
from services import fees, messages, visits
from services.errors import DomainError
from services.outbox import external_url
from services.settings import get_settings

PANEL = {"request-panel": "portal/_request_panel.html", "calendar-view": "portal/_calendar_view.html"}


def calendar_context(client: ClientProfile, month: date, panel: str | None = None, **extra) -> dict:
    """The month grid: the client's visits and the business's block-out days, in three queries."""
    today = business_today()
    weeks = visits.month_weeks(month)
    first, last = weeks[0][0], weeks[-1][-1]
    settings = get_settings()
    shown = visits.calendar_visits(first, last, client_id=client.id) if settings.portal_calendar else []
    context = portal_context(client)
    context.update(
        month=month, weeks=weeks, today=today, visits_by_day=visits.by_day(shown),
        closed_notes={day: blockout.note for day, blockout in
                      visits.blocked_days(visits.blockouts_between(first, last), first, last).items()},
        prev_month=visits.shift_month(month, -1), next_month=visits.shift_month(month, 1),
        this_month=today.replace(day=1), panel=panel,
        can_request=settings.portal_requests and context["onboarding"].complete,
        # Staff viewing the portal have no login of the client's, so no feed address to see.
        feed_url=external_url("feeds.show", token=viewer().calendar_token) if viewer().calendar_token else None,
        new_request_url=url_for("portal.new_request"),
        visit_url=url_for("portal.calendar").replace("/calendar", "/visits/"),
    )
    context.update(extra)
    return context


@bp.get("/calendar")
@client_required
@feature_required("calendar")
@conditional
def calendar():
    month = visits.parse_month(request.args.get("month"), business_today())
    return render_page("portal/calendar.html", {"calendar": "portal/_calendar.html",
                                                "calendar-view": "portal/_calendar_view.html"},
                       **calendar_context(my_client(), month))


def build_request_form(client: ClientProfile, extra_days: int = 0) -> RequestForm:
    form = RequestForm()
    form.offer(visits.active_services(), client.active_pets, visits.parse_day(request.args.get("day")), extra_days)
    return form


def _plan(client: ClientProfile, form: RequestForm) -> visits.Plan:
    return visits.make_plan(client, **form.plan_values())


def _request_page(form: RequestForm, status: int = 200, preview=None, fragment=None):
    """The request form beside the calendar of its first day's month; for htmx, just the panel
    (or the `fragment` asked for)."""
    day = form.first_day()
    month = visits.parse_month(month_param(day) if day else None, business_today())
    return render_page("portal/calendar.html", fragment or PANEL, status=status,
                       **calendar_context(my_client(), month, panel="form", form=form, preview=preview))


def try_preview(client: ClientProfile, form: RequestForm):
    """A Preview, or None while the form is not complete enough to price."""
    try:
        return visits.preview(client.id, _plan(client, form))
    except DomainError:
        return None


@bp.get("/requests/new")
@client_required
@feature_required("requests")
@onboarded(not_ready)
def new_request():
    return _request_page(build_request_form(my_client()))


@bp.post("/requests/preview")
@client_required
@feature_required("requests")
@onboarded(not_ready)
def preview_request():
    """The price of each visit and the total, or what stands in the way (a small fragment)."""
    client = my_client()
    form = build_request_form(client)
    return _request_page(form, preview=try_preview(client, form), fragment="portal/_request_preview.html")


@bp.post("/requests/new")
@client_required
@feature_required("requests")
@onboarded(not_ready)
def create_request():
    client = my_client()
    action = request.form.get("action", "send")
    form = build_request_form(client, extra_days=1 if action == "add_day" else 0)
    if action in ("preview", "add_day"):
        return _request_page(form, preview=try_preview(client, form))

    def again(status: int):
        conflicts = getattr(form.refusal, "conflicts", None)
        return _request_page(form, status, visits.Preview(conflicts=conflicts) if conflicts
                             else try_preview(client, form))

    return submit(form, lambda: visits.request_visits(client, current_user, _plan(client, form)), _requested, again)


def _requested(visit_request):
    count = len(visit_request.visits)
    message = ngettext("Thank you: we have your request for %(num)d visit. We will email you when it is approved.",
                       "Thank you: we have your request for %(num)d visits. We will email you when it is approved.",
                       count)
    if not get_settings().portal_calendar:
        return done(message, url_for("portal.index"))
    month = visit_request.visits[0].day.replace(day=1)
    return done(message, url_for("portal.calendar", month=month_param(month)), "portal/_calendar_view.html",
                **calendar_context(my_client(), month))


@bp.get("/visits/<int:visit_id>")
@client_required
@feature_required("calendar")
def show_visit(visit_id: int):
    visit = visit_or_404(visit_id)
    return render_page("portal/calendar.html", PANEL, **calendar_context(
        my_client(), visit.day.replace(day=1), panel="visit", visit=visit, late=visits.is_late_cancellation(visit),
        fee=fees.quote(visit), fee_tiers=bool(fees.tiers()), visit_thread=messages.visit_thread(visit),
        message_form=prepared(visit_form(visit.id, formdata=None))))


@bp.post("/visits/<int:visit_id>/cancel")
@client_required
@feature_required("calendar")
def cancel_visit(visit_id: int):
    visit = visit_or_404(visit_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    month = visit.day.replace(day=1)
    location = url_for("portal.calendar", month=month_param(month))
    # The fee the panel showed: the most the client agreed to pay (none sent: they agreed to no fee). The server
    # charges its own figure, never more than this; a higher one asks them again (409, the panel with the new fee).
    shown = request.form.get("shown_fee", type=int)

    def cancelled(visit):
        return done(_cancelled_message(visit, shown), location, "portal/_calendar_view.html",
                    **calendar_context(my_client(), month))

    def refused(error):
        if isinstance(error, visits.FeeRose):
            again = visit_or_404(visit_id)
            # htmx: the panel again with the new fee (409); a plain form: back to the visit's page, which shows it.
            return done(error.message, url_for("portal.show_visit", visit_id=again.id), "portal/_calendar_view.html",
                        category="error", status=409,
                        **calendar_context(my_client(), again.day.replace(day=1), panel="visit", visit=again,
                                           late=visits.is_late_cancellation(again), fee=fees.quote(again),
                                           fee_tiers=bool(fees.tiers())))
        return done(error.message, location, "portal/_calendar_view.html", category="error",
                    **calendar_context(my_client(), month))

    return perform(lambda: visits.cancel_visit(visit, current_user, agreed_fee_cents=shown or 0), cancelled, refused)


def _cancelled_message(visit, shown: int | None) -> str:
    """What the client reads after cancelling: the fee charged, and if it is not the one the panel showed
    (a tier began while they decided), that it changed and why."""
    if shown is not None and not 0 <= shown <= visit.price_cents:
        shown = None
    if visit.late_fee_cents <= 0:
        if shown:
            return _("Cancelled, at no charge: the fee of %(shown)s shown before no longer applied when you confirmed.",
                     shown=money(shown))
        return (_("Cancelled. It was inside the cancellation window, so it counts as a late cancellation.")
                if visit.late_cancellation else _("Cancelled. We have let the team know."))
    fee = fees.charged(visit)
    if shown == 0:
        return _("Cancelled. The fee changed while you were deciding: when you confirmed it was %(when)s, so it "
                 "costs %(fee)s, though it was free when you opened the visit. It goes on your next invoice.",
                 when=fee.when_words, fee=fees.fee_words(fee))
    if shown is not None and shown != visit.late_fee_cents:
        return _("Cancelled. The fee changed while you were deciding: when you confirmed it was %(when)s, so it "
                 "costs %(fee)s instead of the %(shown)s shown. It goes on your next invoice.",
                 when=fee.when_words, fee=fees.fee_words(fee), shown=money(shown))
    return _("Cancelled. The late cancellation fee of %(fee)s goes on your next invoice.", fee=fees.fee_words(fee))


@bp.post("/calendar/feed")
@client_required
@feature_required("calendar")
def reset_feed():
    """A new private feed address; the old one stops working."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    visits.reset_feed(current_user)
    return done(_("Your calendar feed has a new address. Subscribe again with it; the old one no longer works."),
                url_for("portal.calendar"))
