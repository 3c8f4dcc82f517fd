"""Client accounts from the client's side: sign in and out, register, set and reset the password."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from access import client_required, public
from blueprints.forms import show_errors
from blueprints.staff import sign_in
from extensions import db, limiter
from models import Policy
from services import accounts, invites, logins
from services.errors import DomainError, FieldErrors
from services.emails import format_code
from services.settings import get_settings

bp = Blueprint("auth", __name__)

PASSWORD_RULE = (f"At least {accounts.MIN_PASSWORD_LENGTH} characters, mixing letters with numbers or symbols.")
RESET_SESSION_KEY = "password_link"


class RegisterForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(message="Enter your email."), Length(max=254)],
                       description="You will sign in with it.")
    password = PasswordField("Password", validators=[InputRequired(message="Choose a password."), Length(max=200)],
                             description=PASSWORD_RULE)
    confirm = PasswordField("Password again", validators=[
        InputRequired(message="Type the password again."), EqualTo("password", message="The passwords differ.")])
    first_name = StringField("First name", validators=[InputRequired(message="Enter your first name."),
                                                       Length(max=80)])
    last_name = StringField("Last name", validators=[InputRequired(message="Enter your last name."), Length(max=80)])
    code = StringField("Invitation code", validators=[Length(max=20)],
                       description="From your invitation email, like ABCD-EFGH. Leave it empty if you have none.")


class ForgotForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(message="Enter your email."), Length(max=254)])


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[InputRequired(message="Choose a password."),
                                                         Length(max=200)], description=PASSWORD_RULE)
    confirm = PasswordField("New password again", validators=[
        InputRequired(message="Type the password again."), EqualTo("password", message="The passwords differ.")])


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
        return redirect(url_for("portal.index" if not current_user.is_staff else "clients.index"))
    return sign_in(logins.authenticate, url_for("portal.index"), "auth/login.html",
                   "That email and password do not match. Check them, or reset your password.")


@bp.post("/logout")
@client_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"), 303)


@bp.route("/register", methods=["GET", "POST"])
@public
@limiter.limit(_limit("REGISTER_LIMIT"), methods=["POST"])
def register():
    if current_user.is_authenticated and not current_user.is_staff:
        return redirect(url_for("portal.index"))
    form = RegisterForm()
    link_code = invites.code_from_link(request.args["invite"]) if request.args.get("invite") else None
    if request.method == "GET" and link_code:
        form.code.data = format_code(invites.normalize_code(link_code))
        try:  # say at once when an emailed link's code no longer works
            invites.check_usable(invites.find_invitation(link_code))
        except DomainError as error:
            form.code.errors = [error.message]
    policies = logins.required_policies()
    agreed = {int(v) for v in request.form.getlist("policies") if v.isdigit()}
    policy_errors: dict[int, str] = {}
    status = 200
    if request.method == "POST":
        status = 422
        if not form.validate_on_submit():
            policy_errors = {p.id: f"Please read and agree to the {p.title}." for p in policies if p.id not in agreed}
        else:
            try:
                login = logins.register(logins.Registration(
                    email=form.email.data, password=form.password.data, first_name=form.first_name.data,
                    last_name=form.last_name.data, code=form.code.data or "", agreed_policy_ids=tuple(agreed),
                    ip_address=request.remote_addr or ""))
            except FieldErrors as error:
                db.session.rollback()
                policy_errors = {int(k.removeprefix("policy_")): v for k, v in error.errors.items()
                                 if k.startswith("policy_")}
                show_errors(form, FieldErrors({k: v for k, v in error.errors.items() if not k.startswith("policy_")}))
            else:
                login_user(login)
                return redirect(url_for("portal.index"), 303)
    return render_template("auth/register.html", form=form, policies=policies, agreed=agreed,
                           policy_errors=policy_errors, open_registration=get_settings().clients_can_register,
                           invited=bool(form.code.data)), status


@bp.get("/policies/<int:policy_id>")
@public
def policy(policy_id: int):
    item = db.session.get(Policy, policy_id)
    if item is None:
        abort(404)
    return render_template("auth/policy.html", policy=item)


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limiter.limit(_limit("PASSWORD_EMAIL_LIMIT"), methods=["POST"])
@limiter.limit(_limit("PASSWORD_EMAIL_LIMIT"), methods=["POST"], key_func=_email_key("forgot"))
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        logins.request_password_reset(form.email.data)
        # The same redirect whether or not the address has a login: nothing tells who has an account.
        return redirect(url_for("auth.forgot_password", sent=1), 303)
    sent = request.method == "GET" and request.args.get("sent") == "1"
    if not sent and request.method == "GET" and request.args.get("email"):
        form.email.data = request.args["email"][:254]
    return render_template("auth/forgot.html", form=form, sent=sent), 422 if form.errors else 200


@bp.get("/password/link/<purpose>/<token>")
@public
def open_password_link(purpose: str, token: str):
    """Check an emailed link, then keep its token in the session so it does not linger in the URL."""
    if purpose not in logins.SALTS:
        abort(404)
    try:
        logins.login_from_token(token, purpose)
    except logins.LinkExpired as expired:
        return render_template("auth/link_problem.html", expired=True, email=expired.email), 410
    except logins.LinkInvalid:
        return render_template("auth/link_problem.html", expired=False, email=""), 404
    session[RESET_SESSION_KEY] = {"purpose": purpose, "token": token}
    return redirect(url_for("auth.set_password"), 303)


@bp.route("/password/set", methods=["GET", "POST"])
@public
@limiter.limit(_limit("CLIENT_LOGIN_LIMIT"), methods=["POST"])
def set_password():
    held = session.get(RESET_SESSION_KEY) or {}
    try:
        login = logins.login_from_token(held.get("token", ""), held.get("purpose", "reset")) if held else None
    except logins.LinkExpired as expired:
        session.pop(RESET_SESSION_KEY, None)
        return render_template("auth/link_problem.html", expired=True, email=expired.email), 410
    except logins.LinkInvalid:
        login = None
    if login is None:
        session.pop(RESET_SESSION_KEY, None)
        return render_template("auth/link_problem.html", expired=False, email=""), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            logins.set_password(login, form.password.data)
        except DomainError as error:
            db.session.rollback()
            show_errors(form, error)
        else:
            session.pop(RESET_SESSION_KEY, None)
            logout_user()
            login_user(login)
            return redirect(url_for("portal.index"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/set_password.html", form=form, login=login, purpose=held["purpose"]), status
