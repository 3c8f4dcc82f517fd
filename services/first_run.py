"""The first run without the demo: while no staff account exists, a one-time setup page (/setup) lets the owner
make their account and name the business. It is guarded by a token printed to the server's log at startup;
once any staff member exists the page is gone and the token worthless. Then, until the business is set up, the
owner's home shows a checklist worked out from the data itself (no flag of its own is stored)."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import false, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from filters import gettext as _
from models import ClientLogin, ClientProfile, Invitation, Role, Service, SiteSettings, StaffUser
from services import accounts
from services import settings as site
from services.errors import DomainError, FieldErrors

NONCE_FILE = "first-run-token"


def needs_setup() -> bool:
    """True while no staff account exists: the setup page is open (to whoever holds the token)."""
    return not db.session.scalar(select(select(StaffUser.id).exists()))


def setup_token() -> str:
    """The setup page's token: a keyed hash (SECRET_KEY) of a random value kept in the instance folder, so every
    process of this install (workers, the reloader) prints and accepts the same one."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"first-run:" + _nonce(), hashlib.sha256).hexdigest()[:40]


def token_matches(given: str | None) -> bool:
    """The token is this install's (compared in constant time) and setup is still open."""
    if not given or not needs_setup():
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), setup_token().encode())


def _nonce() -> bytes:
    path = os.path.join(current_app.instance_path, NONCE_FILE)
    try:
        with open(path, "rb") as kept:
            return kept.read()
    except FileNotFoundError:
        pass
    # Made once, atomically: a second process racing this one keeps the first value (link fails if it exists).
    os.makedirs(current_app.instance_path, exist_ok=True)
    draft = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
    with open(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as new:
        new.write(secrets.token_hex(32).encode())
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(draft)
    with open(path, "rb") as kept:
        return kept.read()


def setup_link() -> str:
    return current_app.config["BASE_URL"] + "/setup?token=" + setup_token()


def announce(app: Flask) -> None:
    """At startup, while no staff account exists, log the setup link (where the admin running the server sees it).
    A database not migrated yet says nothing: `flask db upgrade` comes first."""
    with app.app_context():
        try:
            if needs_setup():
                app.logger.warning("No staff account yet. Create the owner's account at %s (this link works until "
                                   "one exists; `flask create-owner` works too).", setup_link())
        except SQLAlchemyError:
            db.session.rollback()
        finally:
            db.session.remove()


class SetupDone(DomainError):
    """Setup was finished by someone else (another request, worker or host got there first): sign in instead."""

    def __init__(self):
        super().__init__(_("The business is set up already: sign in instead."))


def _hold_staff_table() -> None:
    """Until this transaction ends, nobody else can add a staff member: two setups posted at once are decided one
    after the other in the database itself, whichever gunicorn worker or host serves them (a lock in the process
    would hold only within it). PostgreSQL: a table lock that conflicts with itself and with any INSERT, so the
    second setup waits for the first to commit; READ COMMITTED then shows it the new owner. SQLite: the database's
    single write lock, taken by an UPDATE that changes nothing; the second setup waits for it (busy_timeout) and
    reads afresh. Plain reads go on meanwhile on both."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("LOCK TABLE staff_user IN SHARE ROW EXCLUSIVE MODE"))
    else:
        db.session.execute(update(StaffUser).where(false()).values(id=StaffUser.id)
                           .execution_options(synchronize_session=False))


def set_up(first_name: str, last_name: str, email: str, password: str, business: dict) -> StaffUser:
    """Make the owner's account and save the business's details, all or nothing; refused (SetupDone) once staff
    exists, also when another setup committed while this one was under way."""
    _hold_staff_table()
    if not needs_setup():
        raise SetupDone()
    errors = {}
    try:
        site.check_business(business)
    except FieldErrors as refused:
        errors.update({f"business_{name}": message for name, message in refused.errors.items()})
    if not first_name.strip():
        errors["first_name"] = _("Enter your first name.")
    try:
        owner = accounts.create_staff(email, first_name, last_name, Role.OWNER, password)
    except DomainError as refused:
        errors[refused.field or "email"] = refused.message
    if errors:
        raise FieldErrors(errors)
    site.update_business(business)
    return owner


@dataclass(frozen=True)
class Checklist:
    """What a new business has done so far; each step is worked out from the data."""

    services: bool  # at least one service with its price
    business: bool  # the business's details saved (Site options)
    staff: bool  # someone besides the owner on the team
    clients: bool  # at least one client, added or imported
    invited: bool  # an invitation sent, or a client with a login

    @property
    def done(self) -> bool:
        return all((self.services, self.business, self.staff, self.clients, self.invited))


def checklist() -> Checklist:
    """The checklist in one query (a handful of EXISTS and one COUNT)."""
    return Checklist(*(bool(value) for value in db.session.execute(_CHECKLIST).one()))


# Built once: the owner's client table asks on every load, and building these seven selects cost more than
# running them.
_CHECKLIST = select(
    select(Service.id).exists(),
    select(SiteSettings.id).where(SiteSettings.business_name.is_not(None)).exists(),
    select(func.count(StaffUser.id)).scalar_subquery() > 1,
    select(ClientProfile.id).exists(),
    select(Invitation.id).exists() | select(ClientLogin.id).exists(),
)
