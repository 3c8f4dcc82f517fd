"""Invitations: staff invite client profiles to create their first portal login."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from extensions import db
from filters import gettext as _
from filters import lazy_gettext as _l
from models import ClientLogin, ClientProfile, Invitation, StaffUser, utcnow
from services import emails
from services.errors import DomainError
from services.settings import business

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to confuse
CODE_LENGTH = 8
TOKEN_SALT = "pawtal.invitation"
# Why a profile is skipped, as the invitation dialog lists it after the client's name.
SKIP_HAS_LOGIN = _l("already has a portal login")
SKIP_NO_EMAIL = _l("has no primary email")


@dataclass
class InvitePlan:
    """Who a bulk invitation will reach, and who it skips and why."""

    invite: list[ClientProfile] = field(default_factory=list)
    skipped: list[tuple[ClientProfile, str]] = field(default_factory=list)


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 with the app's secret: a stolen database alone cannot test codes offline."""
    return hmac.new(current_app.config["SECRET_KEY"].encode(), value.encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def plan_invites(client_ids: list[int]) -> InvitePlan:
    """Split the chosen profiles into those to invite and those skipped (with the reason)."""
    plan = InvitePlan()
    if not client_ids:
        return plan
    chosen = db.session.scalars(
        select(ClientProfile).where(ClientProfile.id.in_(client_ids))
        .options(selectinload(ClientProfile.emails), selectinload(ClientProfile.logins))
        .order_by(ClientProfile.last_name, ClientProfile.first_name, ClientProfile.id)
    )
    for client in chosen:
        if client.logins:
            plan.skipped.append((client, SKIP_HAS_LOGIN))
        elif not client.primary_emails:
            plan.skipped.append((client, SKIP_NO_EMAIL))
        else:
            plan.invite.append(client)
    return plan


def send_invitations(clients: list[ClientProfile], sender: StaffUser | None, message: str = "") -> list[Invitation]:
    """Invite each profile (revoking its older pending invitations) and queue the emails, in one commit."""
    if not clients:
        raise DomainError(_("None of the chosen clients can be invited."))
    now = utcnow()
    expires = now + timedelta(days=current_app.config["INVITATION_DAYS"])
    ids = [c.id for c in clients]
    db.session.execute(
        update(Invitation)
        .where(Invitation.client_id.in_(ids), Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    invitations = []
    serializer = _serializer()
    for client in clients:
        code = new_code()
        token = serializer.dumps({"c": code})
        invitation = Invitation(client=client, sent_by=sender, code_hash=keyed_hash(code),
                                token_hash=keyed_hash(token), message=(message or "").strip()[:2000],
                                created_at=now, expires_at=expires)
        db.session.add(invitation)
        emails.send_invitation_email(invitation, client, code, token)
        invitations.append(invitation)
    db.session.flush()
    return invitations


def code_from_link(token: str) -> str | None:
    """The code carried by an invitation link, or None when the link is not genuine."""
    try:
        payload = _serializer().loads(token, max_age=current_app.config["INVITATION_DAYS"] * 86400)
    except SignatureExpired:
        payload = _serializer().loads_unsafe(token)[1]  # an expired link still names its code
    except BadSignature:
        return None
    return payload.get("c") if isinstance(payload, dict) else None


def find_invitation(code: str) -> Invitation | None:
    code = normalize_code(code)
    return db.session.scalar(select(Invitation).where(Invitation.code_hash == keyed_hash(code))) if code else None


def check_usable(invitation: Invitation | None) -> Invitation:
    """The invitation if its code can still be used; otherwise a message saying why not."""
    contact = _contact()
    if invitation is None:
        raise DomainError(_("That invitation code is not right. Check it against your invitation email."), "code")
    state = invitation.state()
    if state == "used":
        raise DomainError(_("That invitation code has already been used. Sign in, or reset your password."), "code")
    if state == "revoked":
        raise DomainError(_("That invitation was replaced or withdrawn. Use the newest invitation email, "
                            "or ask %(contact)s for a new one.", contact=contact), "code")
    if state == "expired":
        raise DomainError(_("That invitation code has expired. Ask %(contact)s for a new one.", contact=contact),
                          "code")
    return invitation


def use_invitation(invitation: Invitation, login: ClientLogin) -> None:
    """Mark the invitation used by `login`: one conditional update, so only one registration wins."""
    now = utcnow()
    result = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None),
               Invitation.expires_at > now)
        .values(used_at=now, login_id=login.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise DomainError(_("That invitation code has already been used. Sign in, or reset your password."), "code")


def load_invitation(invitation_id: int, viewer: StaffUser) -> Invitation | None:
    """An invitation, for owners and managers (who invite)."""
    if not (viewer.is_staff and viewer.can_manage):
        return None
    return db.session.get(Invitation, invitation_id)


def revoke(invitation: Invitation) -> None:
    if invitation.state() != "pending":
        raise DomainError(_("Only a pending invitation can be revoked."))
    invitation.revoked_at = utcnow()


def resend(invitation: Invitation, sender: StaffUser) -> Invitation:
    """A new code and link for the same profile, in place of a pending or expired invitation; the older one
    stops working. A revoked invitation stays withdrawn: inviting the client again is a choice of its own."""
    if invitation.state() == "revoked":
        raise DomainError(_("This invitation was revoked, so it is not sent again. To invite %(client)s anyway, "
                            "use Invite to the portal on the client's profile.", client=invitation.client.name))
    plan = plan_invites([invitation.client_id])
    if not plan.invite:
        name, reason = invitation.client.name, plan.skipped[0][1]
        raise DomainError(_("%(client)s already has a portal login.", client=name) if reason is SKIP_HAS_LOGIN
                          else _("%(client)s has no primary email.", client=name))
    return send_invitations(plan.invite, sender, invitation.message)[0]


def list_pending(now: datetime | None = None) -> list[Invitation]:
    now = now or utcnow()
    return list(db.session.scalars(
        select(Invitation)
        .where(Invitation.used_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now)
        .options(selectinload(Invitation.client), selectinload(Invitation.sent_by))
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        .limit(500)
    ))


def _contact() -> str:
    details = business()
    return _("%(business)s (%(phone)s, %(email)s)", business=details.name, phone=details.phone, email=details.email)
