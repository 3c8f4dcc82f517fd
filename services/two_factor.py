"""Two-factor sign-in for staff: TOTP codes from an authenticator app (RFC 6238, 30-second steps, 6 digits) and
one-time recovery codes.

The secret is kept readable in the database (a code can only be checked with it), protected by database access
like the clients' addresses and key codes; so is a secret being set up, until a code confirms it or it expires
(never in the session cookie, which is signed but readable). Recovery codes are kept as keyed hashes only. No code works twice: the
last time step used is stored, and a recovery code's row is deleted when it is used, each in one conditional
statement, so two requests racing with the same code cannot both pass.
"""
from __future__ import annotations

import hmac
import secrets
import time
from datetime import timedelta

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from extensions import db
from filters import gettext as _
from models import Role, SiteSettings, StaffRecoveryCode, StaffUser, as_utc, utcnow
from services.accounts import end_sessions
from services.errors import FieldErrors
from services.invites import keyed_hash
from services.settings import business, get_settings

STEP_SECONDS = 30
DIGITS = 6
RECOVERY_CODES = 10
# Recovery codes: 10 characters from an alphabet without look-alikes (no 0/o, 1/l/i), shown as two groups of five.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 10
# How long a key shown on the setup page may be confirmed: time to install an app and scan it, not days.
SETUP_MINUTES = 30


def new_secret() -> str:
    """A fresh TOTP secret: 160 random bits in base32, as authenticator apps expect."""
    return pyotp.random_base32()


def start_setup(user: StaffUser) -> str:
    """The key the setup page shows `user`: the one shown before while it may still be confirmed (reloading the page
    does not change what was scanned), else a new one, kept on the staff row for SETUP_MINUTES."""
    secret = pending_secret(user)
    if secret is None:
        secret = user.totp_pending_secret = new_secret()
        user.totp_pending_until = utcnow() + timedelta(minutes=SETUP_MINUTES)
    return secret


def pending_secret(user: StaffUser) -> str | None:
    """The key being set up, or None when there is none or it expired (then it is cleared)."""
    if user.totp_pending_secret is None:
        return None
    if user.totp_pending_until is None or as_utc(user.totp_pending_until) <= utcnow():
        cancel_setup(user)
        return None
    return user.totp_pending_secret


def cancel_setup(user: StaffUser) -> None:
    """Forget the key being set up (the app's entry for it will never work)."""
    user.totp_pending_secret = user.totp_pending_until = None


def setup_uri(user: StaffUser, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code: the business names the entry."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=business().name or "Pawtal")


def qr_data_uri(uri: str) -> str:
    """The QR code of `uri` as an SVG data: URI, for an <img> (the site's CSP allows data: images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2, dark="#000", light="#fff")


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def must_set_up(user) -> bool:
    """A manager the owner requires to use two-factor sign-in who has not set it up yet."""
    if not (getattr(user, "is_staff", False) and user.role == Role.MANAGER and not user.two_factor_on):
        return False
    # Not get_settings(): a page that only reads must not create the settings row.
    settings = db.session.info.get("site_settings") or db.session.get(SiteSettings, 1)
    return settings is not None and settings.managers_need_two_factor


def _clean(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _step_of(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (now, or one either side for a clock a little off) at which `code` is the app's code."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _claim_step(user: StaffUser, step: int) -> bool:
    """Record `step` as used unless it (or a later one) was: a code works once, also between racing requests."""
    claimed = db.session.execute(
        update(StaffUser).where(StaffUser.id == user.id,
                                or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def _use_recovery_code(user: StaffUser, code: str) -> bool:
    """Spend one of the user's recovery codes: True if it was there (it is gone now)."""
    if len(code) != RECOVERY_LENGTH:
        return False
    used = db.session.execute(
        delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == user.id,
                                        StaffRecoveryCode.code_hash == _hash(code))
        .execution_options(synchronize_session=False))
    if used.rowcount == 1:
        db.session.expire(user, ["recovery_codes"])
        current_app.logger.info("staff %s signed in with a recovery code", user.id)
        return True
    return False


def _hash(code: str) -> str:
    return keyed_hash("pawtal.recovery-code:" + code)


def check_code(user: StaffUser, code: str, recovery: bool = True) -> None:
    """Accept a current code from the user's app (or, with `recovery`, one of their recovery codes), once;
    FieldErrors on `code` otherwise."""
    cleaned = _clean(code)
    if user.two_factor_on:
        step = _step_of(user.totp_secret, cleaned)
        if step is not None:
            if _claim_step(user, step):
                return
            raise FieldErrors({"code": _("That code was used already. Wait for the next one in your app.")})
        if recovery and _use_recovery_code(user, cleaned):
            return
    raise FieldErrors({"code": _("That code is not right. Type the 6 digits your app shows now, "
                                 "or one of your recovery codes.") if recovery
                       else _("That code is not right. Type the 6 digits your app shows now.")})


def turn_on(user: StaffUser, code: str) -> list[str]:
    """Switch two-factor sign-in on with the key being set up once a current code from the app proves it was added
    there: the pending key becomes the account's.

    Returns the new recovery codes, to show once. Every other session of the account ends.
    """
    if user.two_factor_on:
        raise FieldErrors({"code": _("Two-factor sign-in is on already.")})
    secret = pending_secret(user)
    if secret is None:
        raise FieldErrors({"code": _("That key expired before it was confirmed. Start again: the page shows a new "
                                     "one to add to your app.")})
    step = _step_of(secret, _clean(code))
    if step is None:
        raise FieldErrors({"code": _("That code is not right. Check that the app shows “%(email)s” and type the "
                                     "6 digits it shows now.", email=user.email)})
    user.totp_secret, user.totp_last_step, user.two_factor_since = secret, step, utcnow()
    cancel_setup(user)
    end_sessions(user)
    current_app.logger.info("staff %s turned two-factor sign-in on", user.id)
    return _new_recovery_codes(user)


def turn_off(user: StaffUser, code: str) -> None:
    """Switch the user's own two-factor sign-in off, proven by a current code (or a recovery code)."""
    check_code(user, code)
    _clear(user)
    current_app.logger.info("staff %s turned two-factor sign-in off", user.id)


def regenerate_recovery_codes(user: StaffUser, code: str) -> list[str]:
    """Ten new recovery codes in place of the old ones (which stop working), proven by a current code."""
    check_code(user, code, recovery=False)
    end_sessions(user)
    return _new_recovery_codes(user)


def reset(member: StaffUser, acting: StaffUser | None) -> None:
    """The owner (or, with `acting` None, the server's admin) switches a team member's two-factor sign-in off
    (a lost phone): they sign in with their password alone, and set it up again (if managers must, at once).
    Their sessions end; the app log says who did it."""
    _clear(member)
    by = f"staff {acting.id} ({acting.email})" if acting is not None else "the server's admin (flask staff reset)"
    current_app.logger.warning("two-factor sign-in of staff %s (%s) reset by %s", member.id, member.email, by)


def recovery_codes_left(user: StaffUser) -> int:
    return db.session.scalar(select(func.count()).select_from(StaffRecoveryCode)
                             .where(StaffRecoveryCode.staff_id == user.id))


def set_managers_rule(required: bool) -> None:
    """The owner's rule: managers must use two-factor sign-in (those without it are sent to set it up)."""
    get_settings().managers_need_two_factor = required


def _clear(user: StaffUser) -> None:
    user.totp_secret, user.totp_last_step, user.two_factor_since = None, None, None
    cancel_setup(user)
    db.session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == user.id)
                       .execution_options(synchronize_session=False))
    db.session.expire(user, ["recovery_codes"])
    end_sessions(user)


def _new_recovery_codes(user: StaffUser) -> list[str]:
    db.session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == user.id)
                       .execution_options(synchronize_session=False))
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
             for _ in range(RECOVERY_CODES)]
    db.session.add_all(StaffRecoveryCode(staff_id=user.id, code_hash=_hash(code)) for code in codes)
    db.session.expire(user, ["recovery_codes"])
    return [f"{code[:5]}-{code[5:]}" for code in codes]
