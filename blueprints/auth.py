"""Client accounts from the client's side: sign in and out, register, set and reset the password."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from access import client_required, or_404, public
from blueprints import password_pages
from blueprints.staff import sign_in
from extensions import db, limiter
from filters import gettext as _
from forms.auth import RegisterForm, SetPasswordForm
from models import ClientLogin, Policy, parse_id
from rendering import submit
from services import accounts, invites, logins, passwords
from services.errors import DomainError
from services.emails import format_code
from services.settings import get_settings

bp = Blueprint("auth", __name__)

POLICY = "policy_"  # a refused policy agreement is named policy_<id> by the service


def _email_key(prefix: str):
    return lambda: f"{prefix}:" + accounts.normalize_email(request.form.get("email", ""))


def _limit(setting: str):
    return lambda: current_app.config[setting]


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_limit("CLIENT_LOGIN_LIMIT"), methods=["POST"])
@limiter.limit(_limit("CLIENT_LOGIN_LIMIT"), methods=["POST"], key_func=_email_key("client-login"))
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home"))
    return sign_in(logins.authenticate, url_for("portal.index"), "auth/login.html",
                   _("That email and password do not match. Check them, or reset your password."))


@bp.post("/logout")
@client_required
def logout():
    """Sign out, on the server too: a copied session or remember-me cookie stops working."""
    accounts.end_sessions(current_user)
    logout_user()
    return redirect(url_for("auth.login"), 303)


@bp.route("/register", methods=["GET", "POST"])
@public
@limiter.limit(_limit("REGISTER_LIMIT"), methods=["POST"])
@limiter.limit(_limit("REGISTER_CODE_LIMIT"), methods=["POST"], key_func=lambda: "register-code",
               exempt_when=lambda: not request.form.get("code"), deduct_when=lambda response: response.status_code == 422)
def register():
    if current_user.is_authenticated and not current_user.is_staff:
        return redirect(url_for("portal.index"))
    form = RegisterForm()
    link_code = invites.code_from_link(request.args["invite"]) if request.args.get("invite") else None
    if request.method == "GET" and link_code:
        form.code.data = format_code(invites.normalize_code(link_code))
        try:  # say at once when an emailed link's code no longer works
            invitation = invites.check_usable(invites.find_invitation(link_code))
        except DomainError as error:
            form.code.errors = [error.message]
        else:  # the link came to this address, for this person: fill them in (they may change them)
            invited = invitation.client
            form.email.data = invited.primary_emails[0] if invited.primary_emails else ""
            form.first_name.data, form.last_name.data = invited.first_name, invited.last_name
    policies = logins.required_policies()
    agreed = {i for i in map(parse_id, request.form.getlist("policies")) if i is not None}

    def register_login():
        return logins.register(logins.Registration(
            email=form.email.data, password=form.password.data, first_name=form.first_name.data,
            last_name=form.last_name.data, code=form.code.data or "", agreed_policy_ids=tuple(agreed),
            ip_address=request.remote_addr or ""))

    def registered(login):
        login_user(login)
        return redirect(url_for("portal.index"), 303)

    def again(status: int):
        refused = getattr(form.refusal, "errors", None) or {}
        if form.refusal is None and form.is_submitted():  # the form itself was invalid: say which policies too
            refused = {f"{POLICY}{p.id}": _("Please read and agree to the %(policy)s.", policy=p.title)
                       for p in policies if p.id not in agreed}
        policy_errors = {int(k.removeprefix(POLICY)): v for k, v in refused.items() if k.startswith(POLICY)}
        form.form_errors[:] = [e for e in form.form_errors if e not in policy_errors.values()]
        return render_template("auth/register.html", form=form, policies=policies, agreed=agreed,
                               policy_errors=policy_errors, open_registration=get_settings().clients_can_register,
                               invited=bool(form.code.data)), status

    return submit(form, register_login, registered, again)


@bp.get("/policies/<int:policy_id>")
@public
def policy(policy_id: int):
    return render_template("auth/policy.html", policy=or_404(db.session.get(Policy, policy_id)))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limiter.limit(_limit("PASSWORD_EMAIL_LIMIT"), methods=["POST"])
@limiter.limit(_limit("PASSWORD_EMAIL_LIMIT"), methods=["POST"], key_func=_email_key("forgot"))
def forgot_password():
    return password_pages.forgot_page(logins.request_password_reset, "auth.forgot_password")


@bp.get("/password/link/<purpose>/<token>")
@public
def open_password_link(purpose: str, token: str):
    """Check an emailed link, then keep its token in the session so it does not linger in the URL."""
    return password_pages.open_link(ClientLogin, purpose, token, "auth.set_password", "auth.forgot_password")


@bp.route("/password/set", methods=["GET", "POST"])
@public
@limiter.limit(_limit("CLIENT_LOGIN_LIMIT"), methods=["POST"])
def set_password():
    return password_pages.set_page(ClientLogin, "auth.set_password", "auth.forgot_password", url_for("portal.index"))


@bp.get("/password/first/<token>")
@public
def open_first_password_link(token: str):
    """A first-time link (a client on file with no login): checked, then held in the session like the others."""
    first, problem = _first_time(token)
    if first is None:
        return problem
    session[password_pages.HELD] = {"kind": "first", "purpose": "first", "token": token}
    return redirect(url_for("auth.first_password"), 303)


@bp.route("/password/first", methods=["GET", "POST"])
@public
@limiter.limit(_limit("CLIENT_LOGIN_LIMIT"), methods=["POST"])
def first_password():
    """Choose the first password for the profile a first-time link names: that creates the login, signed in."""
    held = session.get(password_pages.HELD) or {}
    first, problem = _first_time(held.get("token", "") if held.get("kind") == "first" else "")
    if first is None:
        session.pop(password_pages.HELD, None)
        return problem
    form = SetPasswordForm()

    def signed_in(login):
        session.pop(password_pages.HELD, None)
        logout_user()
        login_user(login)
        return redirect(url_for("portal.index"), 303)

    return submit(form, lambda: logins.create_first_login(first, form.password.data), signed_in,
                  lambda status: (render_template("auth/set_password.html", form=form, email=first.email,
                                                  purpose="first", action=url_for("auth.first_password")), status))


def _first_time(token: str):
    """(what a first-time link is for, None), or (None, the page saying why it cannot be used: expired 410,
    used 409, not valid 404)."""
    forgot = "auth.forgot_password"
    try:
        return passwords.first_time_from_token(token), None
    except passwords.LinkExpired as expired:
        return None, (password_pages.link_problem(forgot, expired.email), 410)
    except passwords.LinkUsed as used:
        return None, (password_pages.link_problem(forgot, None, used=used.email), 409)
    except passwords.LinkInvalid:
        return None, (password_pages.link_problem(forgot, None), 404)
