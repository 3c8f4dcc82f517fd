"""The first run without the demo: the one-time setup page (/setup) while no staff account exists, and the owner's
checklist on their home page until the business is set up (services.first_run)."""
from __future__ import annotations

from flask import Blueprint, abort, request, session, url_for
from flask_login import login_user

from access import owner_required, public
from filters import gettext as _
from forms.setup import SetupForm
from rendering import done, render_page, submit
from services import first_run

bp = Blueprint("setup", __name__, url_prefix="/setup")

# The owner put the checklist away for this session (it also goes once every step is done).
DISMISSED = "setup_checklist_dismissed"


@bp.route("", methods=["GET", "POST"])
@public
def index():
    """Make the owner's account and name the business; 404 without this install's token or once staff exists."""
    form = SetupForm(token=request.args.get("token", ""))
    if not first_run.token_matches(form.token.data):
        abort(404)
    return submit(form, lambda: first_run.set_up(form.first_name.data, form.last_name.data, form.email.data,
                                                 form.password.data, form.business()),
                  _signed_in, lambda status: _form_again(form, status))


def _form_again(form, status: int):
    """The form again, or, when another setup won the race meanwhile, a page that says to sign in (409)."""
    if isinstance(form.refusal, first_run.SetupDone):
        return render_page("setup/index.html", "setup/_form.html", status=409, form=form, finished=True)
    return render_page("setup/index.html", "setup/_form.html", status=status, form=form)


def _signed_in(owner):
    login_user(owner)
    return done(_("Welcome, %(name)s: your account is ready.", name=owner.first_name), url_for("clients.index"))


def checklist_for_owner() -> first_run.Checklist | None:
    """The checklist the owner's home shows, or None (put away, or every step done)."""
    if session.get(DISMISSED):
        return None
    steps = first_run.checklist()
    return None if steps.done else steps


@bp.post("/checklist/dismiss")
@owner_required
def dismiss():
    session[DISMISSED] = True
    return done(_("The checklist is put away; the Staff, Site options and Clients pages are in the menu."),
                url_for("clients.index"), "_partials/empty.html")
