"""The office's live board: today's visits by sitter, late, short and missed ones at a glance.

The page polls its own URL every 30 seconds with htmx (the fragment comes back); without JavaScript it
is a plain page with a Refresh link. `?date=` shows another day.
"""
from __future__ import annotations

from flask import Blueprint, request

from access import manager_required
from filters import business_today
from rendering import conditional, render_page
from services import board, visits

bp = Blueprint("board", __name__, url_prefix="/board")


@bp.get("/")
@manager_required
@conditional
def index():
    today = business_today()
    day = visits.parse_day(request.args.get("date")) or today
    return render_page("board/index.html", "board/_board.html", board=board.day_board(day, today))
