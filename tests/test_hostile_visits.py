"""Visits under way as a hostile user meets them: other people's ids, refused states, numbers no calendar
holds, a clock that changes, crafted checklists, two taps racing, stale corrections, and uploads meant to
break the photo pipeline. No answer is a 500; a refusal says why, changes nothing and shows no one else's data.
"""
import io
import re
import threading
from datetime import datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from extensions import db
from models import ChecklistItem, ReportPhoto, Role, StaffUser, Visit, VisitReport, VisitStatus, utcnow
from services import checkins, outbox, reports
from services.settings import get_settings
from tests.conftest import HX, login_as
from tests.test_checkins import (  # noqa: F401 - fixtures used by name
    NY,
    app_config,
    as_fill_in,
    book,
    events,
    fill_in,
    fresh,
    jpeg_with_gps,
    post,
    rex,
    visit,
    walk,
)


@pytest.fixture
def desk(client, manager):
    login_as(client, manager)
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def local_input(moment: datetime) -> str:
    """A moment as a datetime-local field sends it, in the business's zone."""
    return moment.astimezone(NY).strftime("%Y-%m-%dT%H:%M")


def checked_in(browser, visit: Visit) -> Visit:
    assert post(browser, f"/visits/{visit.id}/check-in").status_code == 200
    return fresh(visit)


def fresh_water(visit: Visit) -> dict:
    item = db.session.scalar(select(ChecklistItem).where(ChecklistItem.label == "Fresh water"))
    return {f"v{visit.id}-item_{item.id}": "y"}


@pytest.mark.parametrize("typed", ["9999-12-31T23:59", "0001-01-01T00:00"])
def test_a_times_correction_outside_the_calendar_is_refused_beside_the_field(app, desk, as_fill_in, visit, typed):
    checked_in(as_fill_in, visit)
    before = fresh(visit).checked_in_at
    response = post(desk, f"/visits/{visit.id}/times", {"checked_in_at": typed, "reason": "Typo"})
    assert response.status_code == 422
    assert "between the years 1901 and 2999" in text(response)
    assert fresh(visit).checked_in_at == before and events(visit, "corrected") == []


def test_a_times_correction_far_from_the_visit_is_refused(app, desk, as_fill_in, visit):
    checked_in(as_fill_in, visit)
    last_year = utcnow() - timedelta(days=365)
    response = post(desk, f"/visits/{visit.id}/times", {"checked_in_at": local_input(last_year), "reason": "Typo"})
    assert response.status_code == 422 and "Enter a check-in between" in text(response)
    assert events(visit, "corrected") == []


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
def test_missed_and_times_refused_for_the_visits_state_say_why_with_409(app, desk, visit, me, walk, rex, htmx):
    cancelled = book(me.client, walk, visit.sitter, [rex], starts_in=timedelta(hours=-3))
    cancelled.status, cancelled.reason = VisitStatus.CANCELLED, "Client away"
    db.session.commit()
    missed = post(desk, f"/visits/{cancelled.id}/missed", {"reason": "Nobody came"}, htmx=htmx)
    assert missed.status_code == 409 and "Only a scheduled visit nobody checked in to" in text(missed)
    times = post(desk, f"/visits/{cancelled.id}/times",
                 {"checked_in_at": local_input(utcnow() - timedelta(hours=3)), "reason": "Forgot"}, htmx=htmx)
    assert times.status_code == 409 and "it has no times to correct" in text(times)
    ahead = post(desk, f"/visits/{visit.id}/missed", {"reason": "Sitter ill"}, htmx=htmx)  # starts in 10 minutes
    assert ahead.status_code == 409 and "has not started yet: cancel it instead" in text(ahead)
    assert fresh(visit).status == VisitStatus.SCHEDULED and fresh(cancelled).status == VisitStatus.CANCELLED
    assert events(visit) == [] and events(cancelled) == []
