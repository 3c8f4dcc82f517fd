"""The portal's home: the onboarding widget while getting started, then the next visits."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, send_file
from flask_login import current_user

from access import client_required, my_client, read_only
from blueprints.portal.base import bp, portal_context
from filters import business_today
from rendering import render_page
from forms.newsletter import PortalNewsletterForm
from services import billing, client_data, logins, newsletter, visits


@bp.get("/")
@client_required
def index():
    client = my_client()
    context = portal_context(client)
    # Once onboarding is done the widget shows "You're all set" one time, then the dashboard takes its place.
    # Recording that it was seen is the one write a GET makes here; it changes nothing the client asked for.
    # Staff viewing the portal leave it for the client to see.
    context["just_finished"] = context["onboarding"].complete and not read_only() and logins.welcome(current_user)
    if context["onboarding"].complete and context["features"].portal_calendar:
        today = business_today()
        context["upcoming"] = visits.calendar_visits(today, today + timedelta(days=366), client_id=client.id,
                                                     open_only=True, limit=3)
    features = context["features"]
    if context["onboarding"].complete and (features.portal_invoices or features.portal_payments):
        context["summary"] = billing.account(client.id)
        context["how_to_pay"] = features.how_to_pay
    if not read_only():
        context["newsletter_state"] = newsletter.state_for(current_user.email)
        context["newsletter_form"] = PortalNewsletterForm(formdata=None,
                                                          wanted=context["newsletter_state"] in ("pending", "confirmed"))
    return render_page("portal/index.html", {"onboarding": "portal/_onboarding.html"}, **context)


@bp.get("/my-data")
@client_required
def my_data():
    """Everything the business keeps about the client, theirs to take: one zip (JSON and their files)."""
    client = my_client()
    return send_file(client_data.export(client), mimetype="application/zip", as_attachment=True,
                     download_name=client_data.filename(client), max_age=0)


@bp.get("/faq")
@client_required
def faq():
    """The business's answers to common questions (404 when it has written none)."""
    context = portal_context(my_client())
    if not context["features"].faq_markdown:
        abort(404)
    return render_page("portal/faq.html", "portal/_faq.html", **context)
