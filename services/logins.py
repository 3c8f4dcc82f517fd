"""Client logins: registration, sign-in, set and reset password links, and staff managing logins."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from extensions import db
from filters import gettext as _
from models import (
    ClientEmail,
    ClientLogin,
    ClientProfile,
    ClientStatus,
    Policy,
    PolicyAgreement,
    StaffUser,
    new_session_token,
    utcnow,
)
from services import emails, invites, signals
from services.passwords import token_for
from services.accounts import check_credentials, check_password_strength, clean_email, hash_password, normalize_email
from services.errors import DomainError, FieldErrors
from services.settings import get_settings

# One salt per purpose: a reset link cannot be used as a set-password link, nor the reverse.
def _existing_login() -> str:
    """The refusal of an email that already has a login (checked first, and again when a race is lost)."""
    return _("An account already uses this email. Sign in, or reset your password if you forgot it.")


@dataclass
class Registration:
    email: str
    password: str
    first_name: str
    last_name: str
    code: str = ""
    agreed_policy_ids: tuple[int, ...] = ()
    ip_address: str = ""


def login_by_email(email: str) -> ClientLogin | None:
    return db.session.scalar(select(ClientLogin).where(ClientLogin.email == normalize_email(email)))


def required_policies() -> list[Policy]:
    return list(db.session.scalars(select(Policy).where(Policy.required_at_registration.is_(True))
                                   .order_by(Policy.title)))


def register(form: Registration) -> ClientLogin:
    """Create a client login: on the invited profile (with a code) or on a new Prospect profile.

    Everything is checked before anything is written; the code is used up by a conditional update in
    the same transaction as the login, so two registrations racing on one code give one login.
    """
    errors: dict[str, str] = {}
    email = normalize_email(form.email)
    try:
        clean_email(email)
    except DomainError as error:
        errors["email"] = error.message
    else:
        if login_by_email(email) is not None:
            errors["email"] = _existing_login()
    try:
        check_password_strength(form.password)
    except DomainError as error:
        errors["password"] = error.message
    if not form.first_name.strip():
        errors["first_name"] = _("Enter your first name.")
    if not form.last_name.strip():
        errors["last_name"] = _("Enter your last name.")
    policies = required_policies()
    for policy in policies:
        if policy.id not in form.agreed_policy_ids:
            errors[f"policy_{policy.id}"] = _("Please read and agree to the %(policy)s.", policy=policy.title)
    invitation = None
    if invites.normalize_code(form.code):
        try:
            invitation = invites.check_usable(invites.find_invitation(form.code))
        except DomainError as error:
            errors["code"] = error.message
    elif not get_settings().clients_can_register:
        errors["code"] = _("Enter the invitation code from your email: this business creates accounts by invitation.")
    elif db.session.scalar(select(ClientEmail.id).where(ClientEmail.email == email)) is not None:
        errors["email"] = _("This email is already on file with us. Use the invitation we emailed you, "
                            "or ask us to send one.")
    if errors:
        raise FieldErrors(errors)

    if invitation is not None:
        client_id = invitation.client_id
    else:
        profile = ClientProfile(first_name=form.first_name.strip(), last_name=form.last_name.strip(),
                                status=ClientStatus.PROSPECT, emails=[ClientEmail(email=email, is_primary=True)])
        profile.pets = []
        profile.refresh_search_text()
        db.session.add(profile)
        db.session.flush()
        signals.client_changed.send(profile)
        client_id = profile.id
    login = ClientLogin(client_id=client_id, email=email, first_name=form.first_name.strip(),
                        last_name=form.last_name.strip(), password_hash=hash_password(form.password),
                        last_login_at=utcnow())
    db.session.add(login)
    try:
        db.session.flush()
    except IntegrityError:  # an email taken a moment ago by another registration; the refusal rolls back
        raise FieldErrors({"email": _existing_login()}) from None
    if invitation is not None:
        try:
            invites.use_invitation(invitation, login)
        except DomainError as error:
            raise FieldErrors({error.field or "code": error.message}) from None
    for policy in policies:
        db.session.add(PolicyAgreement(policy_id=policy.id, policy_version=policy.version, login_id=login.id,
                                       ip_address=form.ip_address[:45]))
    return login


def authenticate(email: str, password: str) -> ClientLogin | None:
    """The active client login with these credentials, or None (same work for unknown emails)."""
    login = check_credentials(login_by_email(email), password)
    if login is None:
        return None
    login.last_login_at = utcnow()
    return login


def request_password_reset(email: str) -> None:
    """Email a reset link to an active login; for an unknown address, tell the team instead."""
    login = login_by_email(email)
    if login is not None and login.active:
        emails.send_password_email(login, token_for(login, "reset"), "reset")
    else:
        emails.send_unknown_reset_email(normalize_email(email)[:254])


def add_login(client: ClientProfile, email: str, first_name: str, last_name: str) -> ClientLogin:
    """Staff add a household member's login by hand; it gets a set-password email."""
    email = clean_email(email)
    if login_by_email(email) is not None:
        raise DomainError(_("Another portal login already uses this email."), "email")
    login = ClientLogin(client=client, email=email, first_name=first_name.strip(), last_name=last_name.strip())
    db.session.add(login)
    try:
        db.session.flush()
    except IntegrityError:
        raise DomainError(_("Another portal login already uses this email."), "email") from None
    emails.send_password_email(login, token_for(login, "set"), "set")
    return login


def send_password_link(login: ClientLogin) -> None:
    """Staff send a login a link to set (no password yet) or reset its password."""
    if not login.active:
        raise DomainError(_("Enable this login before sending it a password link."))
    purpose = "reset" if login.has_password else "set"
    emails.send_password_email(login, token_for(login, purpose), purpose)


def welcome(login: ClientLogin) -> bool:
    """True the first time a login sees its finished onboarding ("You're all set"), which it sees once."""
    if login.welcomed_at is not None:
        return False
    login.welcomed_at = utcnow()
    return True


def load_login(client_id: int, login_id: int, viewer: StaffUser) -> ClientLogin | None:
    """A login of a client profile, for owners and managers (who manage logins)."""
    if not (viewer.is_staff and viewer.can_manage):
        return None
    return db.session.scalar(select(ClientLogin).where(ClientLogin.id == login_id, ClientLogin.client_id == client_id))


def set_active(login: ClientLogin, active: bool) -> None:
    """Disable (signing it out everywhere) or enable a login."""
    if login.active and not active:
        login.session_token = new_session_token()
    login.active = active


@dataclass(frozen=True)
class Agreement:
    """A policy version one of a client's logins agreed to: when and from which address."""

    title: str
    version: int
    agreed_at: datetime
    ip_address: str
    login_name: str


def agreements_of(client_id: int) -> list[Agreement]:
    """Every policy agreement of the client's logins, newest first, in one query."""
    rows = db.session.execute(
        select(Policy.title, PolicyAgreement.policy_version, PolicyAgreement.agreed_at, PolicyAgreement.ip_address,
               ClientLogin.first_name, ClientLogin.last_name, ClientLogin.email)
        .join(Policy, Policy.id == PolicyAgreement.policy_id)
        .join(ClientLogin, ClientLogin.id == PolicyAgreement.login_id)
        .where(ClientLogin.client_id == client_id)
        .order_by(PolicyAgreement.agreed_at.desc(), PolicyAgreement.id.desc()))
    return [Agreement(title, version, at, ip, f"{first} {last}".strip() or email)
            for title, version, at, ip, first, last, email in rows]
