"""Every email Pawtal sends: one function per message, each queued in the outbox (services.outbox)."""
from __future__ import annotations

from flask import current_app

from models import ClientLogin, ClientProfile, Invitation
from services.outbox import external_url, queue_email


def send_invitation_email(invitation: Invitation, client: ClientProfile, code: str, token: str) -> None:
    """The "Account Invitation" to every primary email of the profile."""
    name = current_app.config["BUSINESS_NAME"]
    queue_email(
        "invitation", client.primary_emails, f"Your {name} account invitation", "invitation",
        secrets={"link": external_url("auth.register", invite=token), "code": format_code(code)},
        client=client, invitation=invitation,
    )


def send_password_email(login: ClientLogin, token: str, purpose: str) -> None:
    """A link to set (new login) or reset (forgotten) the password of a client login."""
    name = current_app.config["BUSINESS_NAME"]
    subject = f"Set your {name} password" if purpose == "set" else f"Reset your {name} password"
    queue_email(
        f"password-{purpose}", [login.email], subject, "password_link",
        secrets={"link": external_url("auth.open_password_link", purpose=purpose, token=token)},
        login=login, purpose=purpose,
    )


def send_unknown_reset_email(address: str) -> None:
    """Tell the team that someone asked to reset a password for an address with no client login."""
    queue_email(
        "password-unknown", [current_app.config["BUSINESS_EMAIL"]], "Password help asked for an unknown address",
        "password_unknown", address=address, desk_url=external_url("clients.index", q=address),
    )


def format_code(code: str) -> str:
    """ABCDEFGH -> ABCD-EFGH, easier to read aloud and type."""
    return f"{code[:4]}-{code[4:]}"
