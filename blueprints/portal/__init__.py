"""The client portal (signed-in client logins only), one module per area on one blueprint.

A client only ever sees their own profile: every lookup goes through a loader with the signed-in
login as the viewer (access.py), so another client's ids answer 404. Functions the business
switched off answer 404 too.
"""
from blueprints.portal import (  # noqa: F401 - each adds its routes
    account, calendar, card, home, messages, paperwork, pay, profile, reports,
)
from blueprints.portal.base import bp

__all__ = ["bp"]
