"""Staff sign-in and the team page."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from access import landing_page, owner_required, public, staff_required, stop_viewing
from extensions import db, limiter
from blueprints import password_pages
from filters import gettext as _
from forms.auth import SignInForm
from forms.staff import ChangePasswordForm, OwnDetailsForm, StaffForm, StaffUpdateForm
from models import Role, StaffUser
from rendering import done, perform, render_page, safe_path, submit
from services import accounts, first_run, passwords, staff

bp = Blueprint("staff", __name__, url_prefix="/staff")


def _login_email_key() -> str:
    return "staff-login:" + accounts.normalize_email(request.form.get("email", ""))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["STAFF_LOGIN_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["STAFF_LOGIN_LIMIT"], methods=["POST"], key_func=_login_email_key)
def login():
    if current_user.is_authenticated and current_user.is_staff:
        return redirect(url_for(landing_page()))
    return sign_in(accounts.authenticate_staff, None, "staff/login.html",
                   _("That email and password do not match an active staff account."),
                   first_run=first_run.needs_setup())


def sign_in(authenticate, home: str | None, template: str, failure: str, **context):
    """The sign-in form for one kind of account: 303 to `next` (or `home`, by default the account's start page)
    on success, 401 on failure."""
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            stop_viewing()  # no client's portal is left open from an earlier session in this browser
            return redirect(safe_path(request.args.get("next"), home or url_for(landing_page())), 303)
        form.form_errors.append(failure)
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template(template, form=form, **context), status


@bp.post("/logout")
@staff_required()
def logout():
    """Sign out, on the server too: a copied session or remember-me cookie stops working."""
    accounts.end_sessions(current_user)
    logout_user()
    stop_viewing()
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
    return submit(form, lambda: staff.invite_staff(form.email.data, form.first_name.data, form.last_name.data,
                                                   Role(form.role.data)),
                  lambda user: done(_invited(user), url_for("staff.index")),
                  lambda status: _team_page(form, status))


def _invited(user: StaffUser) -> str:
    """The notice for a new team member: a whole sentence per role, so each translates as one."""
    if user.role == Role.OWNER:
        return _("We emailed %(name)s a link to choose a password and sign in as owner.", name=user.name)
    if user.role == Role.MANAGER:
        return _("We emailed %(name)s a link to choose a password and sign in as manager.", name=user.name)
    return _("We emailed %(name)s a link to choose a password and sign in as sitter.", name=user.name)


@bp.post("/<int:staff_id>/link")
@owner_required
def send_link(staff_id: int):
    """Email a team member a password link again: to set one (invited) or to reset it (forgotten)."""
    member = db.get_or_404(StaffUser, staff_id)
    return perform(lambda: staff.send_link(member),
                   lambda _purpose: done(_("Emailed %(name)s a password link.", name=member.name),
                                         url_for("staff.index")),
                   lambda error: _refused(error.message))


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


@bp.route("/me", methods=["GET", "POST"])
@staff_required()
def me():
    """Your own account: name, sign-in email, password, and your calendar feed."""
    form = OwnDetailsForm(obj=current_user) if request.method == "GET" else OwnDetailsForm()
    return submit(form, lambda: staff.update_own_details(current_user, form.first_name.data or "",
                                                         form.last_name.data or "", form.email.data or "",
                                                         form.password.data or ""),
                  lambda _user: done(_("Your details are saved."), url_for("staff.me")),
                  lambda status: _me_page(details=form, status=status))


@bp.post("/me/password")
@staff_required()
def change_password():
    form = ChangePasswordForm()

    def changed(_none):
        # A new session token: this session goes on (remembered still, if it was), every other one ends.
        # The user itself, not the current_user proxy: Flask-Login keeps what it is given as the request's user.
        account = current_user._get_current_object()
        login_user(account, remember=current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies)
        return done(_("Your password is changed; other devices are signed out."), url_for("staff.me"))

    return submit(form, lambda: passwords.change_password(current_user, form.current.data, form.password.data),
                  changed, lambda status: _me_page(password=form, status=status))


def _me_page(details: OwnDetailsForm | None = None, password: ChangePasswordForm | None = None, status: int = 200):
    return render_page("staff/me.html", "staff/_me.html", status=status,
                       details=details or OwnDetailsForm(formdata=None, obj=current_user),
                       password=password or ChangePasswordForm(formdata=None))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["PASSWORD_EMAIL_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_EMAIL_LIMIT"], methods=["POST"], key_func=_login_email_key)
def forgot_password():
    """The same answer for any address: nothing tells who has a staff account."""
    return password_pages.forgot_page(staff.request_reset, "staff.forgot_password", staff=True)


@bp.get("/password/link/<purpose>/<token>")
@public
def open_password_link(purpose: str, token: str):
    return password_pages.open_link(StaffUser, purpose, token, "staff.set_password", "staff.forgot_password")


@bp.route("/password/set", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["STAFF_LOGIN_LIMIT"], methods=["POST"])
def set_password():
    return password_pages.set_page(StaffUser, "staff.set_password", "staff.forgot_password", url_for("clients.index"))
