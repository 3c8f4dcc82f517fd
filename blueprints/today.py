"""The sitter's day on her phone (`/today`, a sitter's landing page): today's visits still to do in time order, each a
card with what she needs at the door and the check-in, check-out and report buttons (after midnight, yesterday's
still open come first); then today's finished ones, a line each that opens the card; then tomorrow's, a line each
too (a card already for those starting within checkins.FULL_CARD_HOURS).
"""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from access import staff_required
from blueprints.visits import card_context
from filters import business_today
from markupsafe import Markup
from models import VisitStatus
from rendering import conditional, render_page
from services import checkins, keys, messages

bp = Blueprint("today", __name__, url_prefix="/today")
UNDER_WAY = (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS)


@bp.get("/")
@staff_required()
@conditional(message_forms=True)  # each card shows its visit's thread above the form
def index():
    """Every staff member's own visits today and tomorrow (managers find everyone's on the board)."""
    days = checkins.today_for(current_user)
    today = business_today()
    shown = [v for day in days for v in day.visits]
    later = [v for day in days for v in day.later]
    # Once for the page, not per card; every visit here is hers, so her name is the only sitter's name needed.
    notices = keys.key_notices(shown + later, {current_user.id: current_user.first_name}) if current_user.can_manage \
        else {}
    done = [v for day in days for v in day.done]
    threads = messages.visit_threads([v.id for v in shown + done])  # a finished visit's line says it has messages
    cards = {v.id: Markup(render_template("visits/_card.html", level=3, show_record=False,
                                          open_details=v.day <= today and v.status in UNDER_WAY,
                                          **card_context(v, key_notice=notices.get(v.id, ""),
                                                         thread=threads.get(v.id), lazy_thread=True)))
             for v in shown}
    return render_page("today/index.html", "today/_days.html", days=days, today=today, cards=cards,
                       later_notices=notices, threads=threads, full_card_hours=checkins.FULL_CARD_HOURS)
