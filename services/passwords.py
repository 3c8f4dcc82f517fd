"""Password links for both kinds of account, client logins and staff: set (a new account) and reset.

itsdangerous tokens with one salt per kind and purpose, so a reset link cannot serve as a set link nor a
client's as a staff member's; they expire (PASSWORD_RESET_MINUTES, PASSWORD_SET_DAYS) and work once:
the payload carries a keyed fingerprint of the password hash and session token, which using it changes.

A first-time link (`first_time_token`) is for a client on file who has no login yet: it names the profile and
its primary email, and choosing a password creates the login; once a login uses the address it works no more.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from extensions import db
from filters import gettext as _
from models import ClientEmail, ClientLogin, ClientProfile, ClientStatus, StaffUser, utcnow
from services.accounts import check_password_strength, end_sessions, hash_password, verify_password
from services.errors import DomainError, FieldErrors
from services.invites import keyed_hash
from services.settings import get_settings

PURPOSES = ("reset", "set")
SALTS = {
    (ClientLogin, "reset"): "pawtal.password-reset",
    (ClientLogin, "set"): "pawtal.password-set",
    (StaffUser, "reset"): "pawtal.staff-password-reset",
    (StaffUser, "set"): "pawtal.staff-password-set",
}
FIRST_TIME_SALT = "pawtal.client-first-password"


class LinkExpired(Exception):
    """The password link was genuine but is too old; `email` lets the page offer a new one."""

    def __init__(self, email: str = ""):
        super().__init__("expired")
        self.email = email


class LinkInvalid(Exception):
    """The password link was tampered with, already used, or its account is gone or disabled."""


class LinkUsed(Exception):
    """A first-time link whose address has a login now (the link was used, or the login was made otherwise)."""

    def __init__(self, email: str):
        super().__init__("used")
        self.email = email


@dataclass(frozen=True)
class FirstTime:
    """What a first-time link stands for: a login to create on `client`, signing in as `email`."""

    client: ClientProfile
    email: str


def _serializer(model: type, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALTS[(model, purpose)])


def _max_age(purpose: str) -> int:
    config = current_app.config
    return config["PASSWORD_RESET_MINUTES"] * 60 if purpose == "reset" else config["PASSWORD_SET_DAYS"] * 86400


def _fingerprint(account) -> str:
    """Changes when the password or session token changes, so a link works once."""
    return keyed_hash(f"{account.password_hash or ''}:{account.session_token}")[:20]


def token_for(account: ClientLogin | StaffUser, purpose: str) -> str:
    return _serializer(type(account), purpose).dumps({"l": account.id, "f": _fingerprint(account)})


def account_from_token(model: type, token: str, purpose: str):
    """The account (of `model`) a password link is for; LinkExpired or LinkInvalid otherwise."""
    if purpose not in PURPOSES:
        raise LinkInvalid()
    serializer = _serializer(model, purpose)
    try:
        payload = serializer.loads(token, max_age=_max_age(purpose))
    except SignatureExpired as error:
        data = serializer.load_payload(error.payload) if error.payload else {}
        account = _get(model, data.get("l")) if isinstance(data, dict) else None
        raise LinkExpired(account.email if account else "") from None
    except BadSignature:
        raise LinkInvalid() from None
    account = _get(model, payload.get("l")) if isinstance(payload, dict) else None
    if account is None or not account.active or payload.get("f") != _fingerprint(account):
        raise LinkInvalid()
    return account


def first_time_token(client: ClientProfile, email: str) -> str:
    """A link for a client on file with no login: choosing a password creates one on `client` for `email`."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=FIRST_TIME_SALT).dumps(
        {"c": client.id, "e": email})


def first_time_from_token(token: str) -> FirstTime:
    """The profile and address a first-time link is for; LinkExpired, LinkUsed (the address has a login now)
    or LinkInvalid (tampered, or the address is no longer a primary email of that profile) otherwise."""
    serializer = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=FIRST_TIME_SALT)
    try:
        payload = serializer.loads(token, max_age=_max_age("reset"))
    except SignatureExpired as error:
        data = serializer.load_payload(error.payload) if error.payload else {}
        email = data.get("e") if isinstance(data, dict) else ""
        raise LinkExpired(email if isinstance(email, str) else "") from None
    except BadSignature:
        raise LinkInvalid() from None
    email = payload.get("e") if isinstance(payload, dict) else None
    client = _get(ClientProfile, payload.get("c")) if isinstance(payload, dict) else None
    if (client is None or not isinstance(email, str) or not email or client.status == ClientStatus.INACTIVE
            or not get_settings().first_time_passwords):  # inactive since, or the option turned off since
        raise LinkInvalid()
    if db.session.scalar(select(ClientLogin.id).where(ClientLogin.email == email)) is not None:
        raise LinkUsed(email)
    on_profile = select(ClientEmail.id).where(ClientEmail.client_id == client.id, ClientEmail.is_primary.is_(True),
                                              func.lower(ClientEmail.email) == email)
    if db.session.scalar(on_profile) is None:
        raise LinkInvalid()
    return FirstTime(client, email)


def _get(model: type, account_id):
    return db.session.get(model, account_id) if isinstance(account_id, int) and 0 < account_id < 2**31 else None


def set_password(account: ClientLogin | StaffUser, password: str) -> None:
    """Set a new password; every other session of the account ends (and any link for it stops working)."""
    try:
        check_password_strength(password)
    except DomainError as error:
        raise FieldErrors({"password": error.message}) from None
    account.password_hash = hash_password(password)
    end_sessions(account)
    if isinstance(account, ClientLogin):
        account.last_login_at = utcnow()


def change_password(account: ClientLogin | StaffUser, current: str, new: str) -> None:
    """A signed-in account chooses a new password, proving it knows the current one."""
    if not verify_password(account.password_hash, current):
        raise FieldErrors({"current": _("That is not your current password.")})
    set_password(account, new)
