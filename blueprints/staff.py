"""Staff sign-in and the team page."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from access import landing_page, owner_required, public, staff_required, stop_viewing
from extensions import db, limiter
from blueprints import password_pages
from filters import gettext as _
from forms.auth import SignInForm
from forms.staff import (
    ChangePasswordForm, NewRecoveryCodesForm, OwnDetailsForm, StaffForm, StaffUpdateForm, TwoFactorCodeForm,
    TwoFactorRuleForm, TwoFactorSetupForm,
)
from models import Role, StaffUser, parse_id
from rendering import done, perform, render_page, safe_path, submit
from services import accounts, first_run, passwords, staff, two_factor
from services.settings import get_settings

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
                   _("That email and password do not match an active staff account."), second_step=_ask_for_code,
                   first_run=first_run.needs_setup())


def sign_in(authenticate, home: str | None, template: str, failure: str, second_step=None, **context):
    """The sign-in form for one kind of account: 303 to `next` (or `home`, by default the account's start page)
    on success, 401 on failure. `second_step(user, remember)` may answer instead of signing in (a code is asked)."""
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        asked = second_step(user, form.remember.data) if user is not None and second_step else None
        if asked is not None:
            return asked
        if user is not None:
            login_user(user, remember=form.remember.data)
            stop_viewing()  # no client's portal is left open from an earlier session in this browser
            return redirect(safe_path(request.args.get("next"), home or url_for(landing_page())), 303)
        form.form_errors.append(failure)
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template(template, form=form, **context), status


# Between the password and the code: who is signing in, bound to their session token (a password change or a
# 2FA reset meanwhile ends it) and to a few minutes. Nobody is signed in until the code is right.
PENDING = "staff_two_factor"
PENDING_SECONDS = 300


def _ask_for_code(user: StaffUser, remember: bool = False):
    """After the right password of an account with two-factor sign-in on: on to the code, not signed in yet."""
    if not user.two_factor_on:
        return None
    logout_user()
    session[PENDING] = {"id": user.id, "token": user.session_token, "until": int(time.time()) + PENDING_SECONDS,
                        "remember": bool(remember), "next": safe_path(request.args.get("next"), "")}
    return redirect(url_for("staff.login_code"), 303)


def _pending_user() -> StaffUser | None:
    """The staff member halfway through signing in in this browser, if the step has not expired."""
    held = session.get(PENDING)
    if not isinstance(held, dict):
        return None
    user_id = parse_id(str(held.get("id", "")))
    user = db.session.get(StaffUser, user_id) if user_id else None
    if (user is None or not user.active or not user.two_factor_on or held.get("token") != user.session_token
            or not isinstance(held.get("until"), int) or held["until"] < time.time()):
        session.pop(PENDING, None)
        return None
    return user


def _pending_key() -> str:
    held = session.get(PENDING)
    return f"staff-code:{held.get('id') if isinstance(held, dict) else ''}"


@bp.route("/login/code", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["STAFF_LOGIN_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["STAFF_LOGIN_LIMIT"], methods=["POST"], key_func=_pending_key)
def login_code():
    """The second step of signing in: a code from the authenticator app, or a recovery code."""
    user = _pending_user()
    if user is None:
        if request.method == "POST":
            flash(_("Signing in took too long; start again with your password."), "error")
        return redirect(url_for("staff.login"), 303)
    form = TwoFactorCodeForm()

    def signed_in(_none):
        held = session.pop(PENDING)
        login_user(user, remember=held.get("remember", False))
        stop_viewing()
        return redirect(held.get("next") or url_for(landing_page()), 303)

    return submit(form, lambda: two_factor.check_code(user, form.code.data), signed_in,
                  lambda status: (render_template("staff/login_code.html", form=form), status))


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
    rule = TwoFactorRuleForm(formdata=None, managers_need_two_factor=get_settings().managers_need_two_factor)
    return render_page("staff/index.html", "staff/_new.html", status=status, members=members, forms=forms, form=form,
                       rule=rule)


@bp.post("/two-factor")
@owner_required
def require_two_factor():
    """The owner's rule: managers must use two-factor sign-in."""
    form = TwoFactorRuleForm()
    form.validate_on_submit()
    required = bool(form.managers_need_two_factor.data)
    two_factor.set_managers_rule(required)
    return done(_("Managers must now use two-factor sign-in; those without it set it up when they next open a page.")
                if required else _("Managers may choose whether to use two-factor sign-in."), url_for("staff.index"))


@bp.post("/<int:staff_id>/two-factor/reset")
@owner_required
def reset_two_factor(staff_id: int):
    """Switch a team member's two-factor sign-in off (a lost phone): they sign in with their password again."""
    member = db.get_or_404(StaffUser, staff_id)
    if member.id == current_user.id or not member.two_factor_on:
        return _refused(_("Only another team member's two-factor sign-in can be reset here."))
    two_factor.reset(member, current_user)
    return done(_("Two-factor sign-in of %(name)s is off; they are signed out and sign in with their password.",
                  name=member.name), url_for("staff.index"))


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
        _stay_signed_in()
        return done(_("Your password is changed; other devices are signed out."), url_for("staff.me"))

    return submit(form, lambda: passwords.change_password(current_user, form.current.data, form.password.data),
                  changed, lambda status: _me_page(password=form, status=status))


def _me_page(details: OwnDetailsForm | None = None, password: ChangePasswordForm | None = None,
             off: TwoFactorCodeForm | None = None, renew: NewRecoveryCodesForm | None = None, status: int = 200):
    return render_page("staff/me.html", "staff/_me.html", status=status,
                       details=details or OwnDetailsForm(formdata=None, obj=current_user),
                       password=password or ChangePasswordForm(formdata=None),
                       off=off or TwoFactorCodeForm(formdata=None, prefix="off"),
                       renew=renew or NewRecoveryCodesForm(formdata=None, prefix="renew"),
                       codes_left=two_factor.recovery_codes_left(current_user) if current_user.two_factor_on else 0)


def _stay_signed_in() -> None:
    """After the account's session token changed: this session goes on (remembered still, if it was), every
    other one has ended."""
    login_user(current_user._get_current_object(),  # the account, not the proxy: the page may read current_user
               remember=current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies)


@bp.route("/me/two-factor", methods=["GET", "POST"])
@staff_required()
def two_factor_setup():
    """Set up two-factor sign-in: add the account to an authenticator app (QR code or the secret typed), then
    prove it with a current code; the recovery codes are shown once. The key is kept on the staff row until then
    (made when the page is first shown, the same one while it may be confirmed), never in the session cookie."""
    if current_user.two_factor_on:
        return redirect(url_for("staff.me"), 303)
    form = TwoFactorSetupForm()
    if form.is_submitted() and two_factor.pending_secret(current_user) is None:
        # The key on the page expired, or was put away in another tab: show a new one (a GET keeps it).
        flash(_("That key expired before it was confirmed: add this new one to your app."), "error")
        return redirect(url_for("staff.two_factor_setup"), 303)
    secret = two_factor.start_setup(current_user)

    def turned_on(codes: list[str]):
        _stay_signed_in()
        return render_page("staff/two_factor.html", "staff/_two_factor.html", codes=codes, form=None)

    return submit(form, lambda: two_factor.turn_on(current_user, form.code.data), turned_on,
                  lambda status: render_page("staff/two_factor.html", "staff/_two_factor.html", status=status,
                                             form=form, codes=None, secret=two_factor.grouped(secret),
                                             qr=two_factor.qr_data_uri(two_factor.setup_uri(current_user, secret)),
                                             required=two_factor.must_set_up(current_user)))


@bp.post("/me/two-factor/cancel")
@staff_required()
def two_factor_cancel():
    """Not now: the key shown on the setup page is forgotten (a new one is shown next time)."""
    two_factor.cancel_setup(current_user)
    return done(_("Two-factor sign-in is not set up; the key that was shown will not work."), url_for("staff.me"))


@bp.post("/me/two-factor/off")
@staff_required()
def two_factor_off():
    form = TwoFactorCodeForm(prefix="off")

    def turned_off(_none):
        _stay_signed_in()
        return done(_("Two-factor sign-in is off; other devices are signed out."), url_for("staff.me"))

    return submit(form, lambda: two_factor.turn_off(current_user, form.code.data), turned_off,
                  lambda status: _me_page(off=form, status=status))


@bp.post("/me/two-factor/recovery-codes")
@staff_required()
def new_recovery_codes():
    form = NewRecoveryCodesForm(prefix="renew")

    def renewed(codes: list[str]):
        _stay_signed_in()
        return render_page("staff/two_factor.html", "staff/_two_factor.html", codes=codes, form=None)

    return submit(form, lambda: two_factor.regenerate_recovery_codes(current_user, form.code.data), renewed,
                  lambda status: _me_page(renew=form, status=status))


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
    return password_pages.set_page(StaffUser, "staff.set_password", "staff.forgot_password", url_for("clients.index"),
                                   second_step=_ask_for_code)
