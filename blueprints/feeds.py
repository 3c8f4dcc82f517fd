"""Private iCal feeds (anyone holding the secret URL): a client login's visits or a sitter's."""
from __future__ import annotations

from flask import Blueprint, Response, abort

from access import public
from extensions import limiter
from filters import business_today
from services import visits

bp = Blueprint("feeds", __name__, url_prefix="/feeds")


@bp.get("/<token>.ics")
@public
@limiter.limit("60 per minute")
def show(token: str):
    """The feed whose secret is `token`; an unknown or reset secret is 404."""
    owner = visits.feed_owner(token)
    if owner is None:
        abort(404)
    response = Response(visits.calendar_feed(owner, business_today()), mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="visits.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
