"""The team: staff invited by email to choose their own password, forgotten passwords, their own details."""
from __future__ import annotations

from extensions import db
from filters import gettext as _
from models import Role, StaffUser
from services import emails, two_factor
from services.accounts import clean_email, end_sessions, normalize_email, staff_by_email, verify_password
from services.errors import DomainError, FieldErrors
from services.passwords import set_password, token_for


def invite_staff(email: str, first_name: str, last_name: str, role: Role) -> StaffUser:
    """Add a team member with no password: they are emailed a link to choose one (as client logins are)."""
    email, first_name, last_name = clean_email(email), first_name or "", last_name or ""
    if not first_name.strip():
        raise FieldErrors({"first_name": _("Enter a first name.")})
    if staff_by_email(email):
        raise DomainError(_("A staff member with this email already exists."), "email")
    user = StaffUser(email=email, first_name=first_name.strip(), last_name=last_name.strip(), role=role,
                     password_hash=None)
    db.session.add(user)
    db.session.flush()
    emails.send_password_email(user, token_for(user, "set"), "set")
    return user


def send_link(user: StaffUser) -> str:
    """Email a staff member a link to set (invited, no password yet) or reset their password; returns which."""
    if not user.active:
        raise DomainError(_("Give %(name)s access (Can sign in) before sending a link.", name=user.name))
    purpose = "reset" if user.password_hash else "set"
    emails.send_password_email(user, token_for(user, purpose), purpose)
    return purpose


def request_reset(email: str) -> None:
    """"Forgot password" on the staff sign-in page: a link for an active account, and the same answer for any."""
    user = staff_by_email(normalize_email(email or ""))
    if user is not None and user.active:
        purpose = "reset" if user.password_hash else "set"  # invited, never chose one: the link sets it
        emails.send_password_email(user, token_for(user, purpose), purpose)


def update_own_details(user: StaffUser, first_name: str, last_name: str, email: str, password: str = "") -> StaffUser:
    """A staff member's own name and sign-in email (the address must stay theirs alone).

    A new sign-in email takes the current password: whoever finds a signed-in device unattended must not
    be able to move the account to their own address and reset its password from there. The old address
    is told.
    """
    errors = {}
    if not first_name.strip():
        errors["first_name"] = _("Enter your first name.")
    try:
        email = clean_email(email)
    except DomainError as error:
        errors["email"] = error.message
    else:
        taken = staff_by_email(email)
        if taken is not None and taken.id != user.id:
            errors["email"] = _("Another staff member signs in with this email.")
        elif email != user.email and not verify_password(user.password_hash, password or ""):
            errors["password"] = (_("That is not your current password.") if password
                                  else _("Enter your current password to change the email you sign in with."))
    if errors:
        raise FieldErrors(errors)
    if email != user.email:
        emails.send_sign_in_email_changed(user, user.email, email)
    user.first_name, user.last_name, user.email = first_name.strip(), last_name.strip(), email
    return user


def admin_reset(email: str, password: str | None = None) -> tuple[StaffUser, str | None]:
    """For the server's admin (flask staff reset): give a locked-out account access again.

    With a password, it is set now; without, a set-password link is returned to pass on. Either way the
    account can sign in again (access restored, two-factor sign-in off) and every old session ends.
    """
    user = staff_by_email(normalize_email(email or ""))
    if user is None:
        raise DomainError(_("No staff member signs in with %(email)s.", email=email))
    user.active = True
    if user.two_factor_on:  # locked out for a lost phone, perhaps: they sign in with the password alone again
        two_factor.reset(user, None)
    end_sessions(user)
    if password is not None:
        set_password(user, password)
        return user, None
    return user, token_for(user, "reset" if user.password_hash else "set")
