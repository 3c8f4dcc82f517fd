"""/healthz for a monitor: JSON, 200 when the database answers and is migrated to the head, else 503."""
from __future__ import annotations

from flask import Blueprint, jsonify

from access import public
from services import health

bp = Blueprint("healthz", __name__)


@bp.get("/healthz")
@public
def index():
    healthy, report = health.check()
    response = jsonify(report)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
