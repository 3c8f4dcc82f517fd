"""Inviting client profiles to the portal: the invite modal, pending invitations, resend and revoke."""
from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from access import manager_required
from blueprints.forms import show_errors
from extensions import db
from models import Invitation
from rendering import done, render_page
from services import invites
from services.errors import DomainError

bp = Blueprint("invitations", __name__, url_prefix="/invitations")
CHANGED = "clientsChanged"  # the table, profile and this list refresh themselves on it


class InviteForm(FlaskForm):
    message = TextAreaField("Personal message (optional)", validators=[Length(max=2000)],
                            description="Added to the invitation email, above the link and code.")


def _chosen_ids() -> list[int]:
    source = request.form if request.method == "POST" else request.args
    return sorted({int(v) for v in source.getlist("ids") if v.isdigit()})[:5000]


@bp.get("/")
@manager_required
def index():
    return render_page("invitations/index.html", "invitations/_list.html", invitations=invites.list_pending())


@bp.get("/new")
@manager_required
def new():
    """The invite modal (a <dialog> for htmx, a page without it) for the ticked profiles."""
    ids = _chosen_ids()
    return render_page("invitations/new.html", "invitations/_dialog.html", form=InviteForm(), ids=ids,
                       plan=invites.plan_invites(ids), back=_back_url(ids))


@bp.post("/")
@manager_required
def create():
    ids = _chosen_ids()
    form = InviteForm()
    plan = invites.plan_invites(ids)
    if form.validate_on_submit():
        try:
            sent = invites.send_invitations(plan.invite, current_user, form.message.data or "")
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            count = len(sent)
            message = f"Invited {count} client{'' if count == 1 else 's'}."
            if plan.skipped:
                message += f" Skipped {len(plan.skipped)}."
            return done(message, _back_url(ids), "_partials/flashes.html", trigger=CHANGED, oob=True)
    return render_page("invitations/new.html", "invitations/_dialog.html", status=422, form=form, ids=ids,
                       plan=plan, back=_back_url(ids))


@bp.post("/<int:invitation_id>/resend")
@manager_required
def resend(invitation_id: int):
    invitation = db.get_or_404(Invitation, invitation_id)
    try:
        invites.resend(invitation, current_user)
    except DomainError as error:
        db.session.rollback()
        return done(error.message, _back(), "_partials/flashes.html", oob=True, category="error")
    return done(f"Sent a new invitation to {invitation.client.name}; the older code no longer works.", _back(),
                "_partials/flashes.html", trigger=CHANGED, oob=True)


@bp.post("/<int:invitation_id>/revoke")
@manager_required
def revoke(invitation_id: int):
    invitation = db.get_or_404(Invitation, invitation_id)
    try:
        invites.revoke(invitation)
    except DomainError as error:
        return done(error.message, _back(), "_partials/flashes.html", oob=True, category="error")
    return done(f"Revoked the invitation for {invitation.client.name}.", _back(), "_partials/flashes.html",
                trigger=CHANGED, oob=True)


def _back_url(ids: list[int]) -> str:
    """Where to go after inviting without JavaScript: the profile for one client, else the table."""
    if len(ids) == 1:
        return url_for("clients.show", client_id=ids[0])
    return url_for("clients.index")


def _back() -> str:
    target = request.form.get("back", "")
    return target if target.startswith("/") and not target.startswith("//") else url_for("invitations.index")
