"""Inviting client profiles to the portal: the invite modal, pending invitations, resend and revoke."""
from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user

from access import manager_required, or_404
from filters import ngettext
from filters import gettext as _
from forms.invitations import InviteForm
from models import Invitation, parse_id
from rendering import done, perform, render_page, safe_path, submit
from services import invites

bp = Blueprint("invitations", __name__, url_prefix="/invitations")
CHANGED = "clientsChanged"  # the table, profile and this list refresh themselves on it


def _chosen_ids() -> list[int]:
    source = request.form if request.method == "POST" else request.args
    return sorted({i for i in map(parse_id, source.getlist("ids")) if i is not None})[:5000]


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

    def invited(sent):
        message = ngettext("Invited %(num)d client.", "Invited %(num)d clients.", len(sent))
        if plan.skipped:
            message = _("%(invited)s Skipped %(skipped)d.", invited=message, skipped=len(plan.skipped))
        return done(message, _back_url(ids), "_partials/flashes.html", trigger=CHANGED, oob=True)

    return submit(form, lambda: invites.send_invitations(plan.invite, current_user, form.message.data or ""), invited,
                  lambda status: render_page("invitations/new.html", "invitations/_dialog.html", status=status,
                                             form=form, ids=ids, plan=plan, back=_back_url(ids)))


def _invitation_or_404(invitation_id: int) -> Invitation:
    return or_404(invites.load_invitation(invitation_id, current_user))


def _notice(message: str, **extra):
    return done(message, _back(), "_partials/flashes.html", oob=True, **extra)


@bp.post("/<int:invitation_id>/resend")
@manager_required
def resend(invitation_id: int):
    invitation = _invitation_or_404(invitation_id)
    name = invitation.client.name
    return perform(lambda: invites.resend(invitation, current_user),
                   lambda _sent: _notice(_("Sent a new invitation to %(name)s; the older code no longer works.",
                                           name=name), trigger=CHANGED),
                   lambda error: _notice(error.message, category="error", status=409))


@bp.post("/<int:invitation_id>/revoke")
@manager_required
def revoke(invitation_id: int):
    invitation = _invitation_or_404(invitation_id)
    name = invitation.client.name
    return perform(lambda: invites.revoke(invitation),
                   lambda _revoked: _notice(_("Revoked the invitation for %(name)s.", name=name), trigger=CHANGED),
                   lambda error: _notice(error.message, category="error", status=409))


def _back_url(ids: list[int]) -> str:
    """Where to go after inviting without JavaScript: the profile for one client, else the table."""
    if len(ids) == 1:
        return url_for("clients.show", client_id=ids[0])
    return url_for("clients.index")


def _back() -> str:
    return safe_path(request.form.get("back"), url_for("invitations.index"))
