"""The client portal (signed-in client logins only). Onboarding and visits come in later issues."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from access import client_required

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.get("/")
@client_required
def index():
    return render_template("portal/index.html", login=current_user, client=current_user.client)
