"""The portal's home: the onboarding widget while getting started, then the next visits."""
from __future__ import annotations

from datetime import timedelta

from access import client_required, my_client
from blueprints.portal.base import bp, portal_context
from filters import business_today
from rendering import render_page
from services import visits


@bp.get("/")
@client_required
def index():
    client = my_client()
    context = portal_context(client)
    if context["onboarding"].complete and context["features"].portal_calendar:
        today = business_today()
        context["upcoming"] = visits.calendar_visits(today, today + timedelta(days=366), client_id=client.id,
                                                     open_only=True, limit=3)
    return render_page("portal/index.html", {"onboarding": "portal/_onboarding.html"}, **context)
