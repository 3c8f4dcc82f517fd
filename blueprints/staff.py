"""Staff sign-in and the team page."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from urllib.parse import urlsplit
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import Email, InputRequired, Length

from access import owner_required, public, staff_required
from blueprints.forms import show_errors
from extensions import db, limiter
from models import Role, StaffUser
from rendering import done, render_page
from services import accounts
from services.errors import DomainError

bp = Blueprint("staff", __name__, url_prefix="/staff")

ROLE_CHOICES = [(r.value, r.label) for r in Role]


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired()])
    remember = BooleanField("Keep me signed in on this device")


class StaffForm(FlaskForm):
    first_name = StringField("First name", validators=[InputRequired(), Length(max=80)])
    last_name = StringField("Last name", validators=[Length(max=80)])
    email = EmailField("Email", validators=[InputRequired(), Email(check_deliverability=False), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.SITTER.value)
    password = PasswordField(
        "Temporary password",
        validators=[InputRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH, max=200)],
        description=f"At least {accounts.MIN_PASSWORD_LENGTH} characters; share it privately.",
    )


class StaffUpdateForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Can sign in")


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
                   "That email and password do not match an active staff account.")


def sign_in(authenticate, home: str, template: str, failure: str):
    """The sign-in form for one kind of account: 303 to `next` (or `home`) on success, 401 on failure."""
    form = LoginForm()
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
    flash("You are signed out.", "success")
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
    if form.validate_on_submit():
        try:
            user = accounts.create_staff(
                form.email.data, form.first_name.data, form.last_name.data, Role(form.role.data), form.password.data
            )
        except DomainError as error:
            show_errors(form, error)
        else:
            return done(f"{user.name} can now sign in as {user.role.label.lower()}.", url_for("staff.index"))
    return _team_page(form, 422)


@bp.post("/<int:staff_id>")
@owner_required
def update(staff_id: int):
    member = db.get_or_404(StaffUser, staff_id)
    form = StaffUpdateForm(prefix=f"m{member.id}")
    if form.validate_on_submit():
        try:
            accounts.update_staff(member, Role(form.role.data), form.active.data, current_user)
        except DomainError as error:
            flash(error.message, "error")
            return redirect(url_for("staff.index"), 303)
        return done(f"Saved {member.name}.", url_for("staff.index"))
    flash("Choose a role.", "error")
    return redirect(url_for("staff.index"), 303)
