"""Staff accounts: password hashing, sign-in and the team list."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from email_validator import EmailNotValidError, validate_email

from extensions import db
from filters import ngettext
from filters import gettext as _
from models import MIN_PASSWORD_LENGTH, Role, StaffUser, new_session_token
from services.errors import DomainError

_hasher = PasswordHasher()
# Verifying against this keeps sign-in time the same for unknown emails.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older argon2 parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(ngettext("Use at least %(num)d character.", "Use at least %(num)d characters.",
                                   MIN_PASSWORD_LENGTH), "password")
    if password.isdigit() or password.isalpha():
        raise DomainError(_("Mix letters with numbers or symbols."), "password")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def clean_email(text: str, field: str = "email") -> str:
    """The address, checked by email-validator (syntax only: no DNS lookups) and lower-cased."""
    address = normalize_email(text or "")
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        raise DomainError(_("“%(address)s” is not an email address; write it like name@example.com.", address=address)
                          if address else _("Enter an email address."), field) from None
    return address


def staff_by_email(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(StaffUser.email == normalize_email(email)))


def check_credentials(account, password: str):
    """`account` (staff or client login) if it is active and the password is right, else None.

    Unknown accounts cost the same hashing work; an outdated hash is upgraded (the caller commits).
    """
    ok = verify_password(account.password_hash if account else None, password)
    if account is None or not ok or not account.active:
        return None
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return account


def end_sessions(account) -> None:
    """Sign an account (staff or client login) out everywhere: every session and remember-me cookie
    carries the old session token, which no longer matches."""
    account.session_token = new_session_token()


def authenticate_staff(email: str, password: str) -> StaffUser | None:
    """The active staff member with these credentials, or None."""
    return check_credentials(staff_by_email(email), password)


def create_staff(email: str, first_name: str, last_name: str, role: Role, password: str) -> StaffUser:
    email = clean_email(email)
    if staff_by_email(email):
        raise DomainError(_("A staff member with this email already exists."), "email")
    check_password_strength(password)
    user = StaffUser(
        email=normalize_email(email),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        role=role,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    db.session.flush()
    return user


def update_staff(user: StaffUser, role: Role, active: bool, acting: StaffUser) -> StaffUser:
    """Change a team member's role or access; the business always keeps an active owner."""
    if user.id == acting.id and (role != user.role or not active):
        raise DomainError(_("You cannot change your own role or access."), "role")
    was_owner = user.role == Role.OWNER and user.active
    if was_owner and (role != Role.OWNER or not active) and count_active_owners() <= 1:
        raise DomainError(_("The business needs at least one active owner."), "role")
    if user.active and not active:
        user.session_token = new_session_token()  # sign them out everywhere
    user.role = role
    user.active = active
    return user


def count_active_owners() -> int:
    return db.session.scalar(
        select(func.count()).select_from(StaffUser).where(StaffUser.role == Role.OWNER, StaffUser.active.is_(True))
    )


def list_staff() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).order_by(StaffUser.active.desc(), StaffUser.first_name)))


def list_sitters() -> list[StaffUser]:
    """Active staff who can be assigned to clients (every role can walk dogs)."""
    return list(
        db.session.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.first_name))
    )
