"""Staff sign-in and the team page."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from access import owner_required, public, staff_required
from extensions import db, limiter
from forms.auth import SignInForm
from forms.staff import StaffForm, StaffUpdateForm
from models import Role, StaffUser
from rendering import done, perform, render_page, submit
from services import accounts

bp = Blueprint("staff", __name__, url_prefix="/staff")


def _login_email_key() -> str:
    return "staff-login:" + accounts.normalize_email(request.form.get("email", ""))


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a path on this site (never another site), else `default`."""
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return default


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["STAFF_LOGIN_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["STAFF_LOGIN_LIMIT"], methods=["POST"], key_func=_login_email_key)
def login():
    if current_user.is_authenticated and current_user.is_staff:
        return redirect(url_for("clients.index"))
    return sign_in(accounts.authenticate_staff, url_for("clients.index"), "staff/login.html",
                   _("That email and password do not match an active staff account."))


def sign_in(authenticate, home: str, template: str, failure: str):
    """The sign-in form for one kind of account: 303 to `next` (or `home`) on success, 401 on failure."""
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next"), home), 303)
        form.form_errors.append(failure)
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template(template, form=form), status


@bp.post("/logout")
@staff_required()
def logout():
    logout_user()
    flash(_("You are signed out."), "success")
    return redirect(url_for("staff.login"), 303)


@bp.get("/")
@owner_required
def index():
    return _team_page(StaffForm())


def _team_page(form: StaffForm, status: int = 200):
    members = accounts.list_staff()
    forms = {m.id: StaffUpdateForm(prefix=f"m{m.id}", role=m.role.value, active=m.active) for m in members}
    return render_page("staff/index.html", "staff/_new.html", status=status, members=members, forms=forms, form=form)


@bp.post("/")
@owner_required
def create():
    form = StaffForm()
    return submit(form, lambda: accounts.create_staff(form.email.data, form.first_name.data, form.last_name.data,
                                                      Role(form.role.data), form.password.data),
                  lambda user: done(_can_sign_in(user), url_for("staff.index")),
                  lambda status: _team_page(form, status))


def _can_sign_in(user: StaffUser) -> str:
    """The notice for a new team member: a whole sentence per role, so each translates as one."""
    if user.role == Role.OWNER:
        return _("%(name)s can now sign in as owner.", name=user.name)
    if user.role == Role.MANAGER:
        return _("%(name)s can now sign in as manager.", name=user.name)
    return _("%(name)s can now sign in as sitter.", name=user.name)


@bp.post("/<int:staff_id>")
@owner_required
def update(staff_id: int):
    member = db.get_or_404(StaffUser, staff_id)
    form = StaffUpdateForm(prefix=f"m{member.id}")
    if not form.validate_on_submit():
        flash(_("Choose a role."), "error")
        return redirect(url_for("staff.index"), 303)
    return perform(lambda: accounts.update_staff(member, Role(form.role.data), form.active.data, current_user),
                   lambda saved: done(_("Saved %(name)s.", name=saved.name), url_for("staff.index")),
                   lambda error: _refused(error.message))


def _refused(message: str):
    flash(message, "error")
    return redirect(url_for("staff.index"), 303)
