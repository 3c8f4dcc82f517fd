"""The email outbox for staff: what is queued or failing, what went out, and retry now."""
from __future__ import annotations

from flask import Blueprint, url_for

from access import manager_required
from extensions import db
from filters import gettext as _
from models import OutboxMessage
from rendering import done, render_page
from services import outbox

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


@bp.get("/")
@manager_required
def index():
    return render_page("outbox/index.html", "outbox/_messages.html", undelivered=outbox.list_undelivered(),
                       sent=outbox.list_recent_sent(), fill=outbox.fill)


@bp.post("/<int:message_id>/retry")
@manager_required
def retry(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    if message.sent_at is None:
        outbox.retry_now(message)
    return done(_("Trying again now."), url_for("outbox.index"), "outbox/_messages.html",
                undelivered=outbox.list_undelivered(), sent=outbox.list_recent_sent(), fill=outbox.fill)
