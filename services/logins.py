"""Client logins: registration, sign-in, set and reset password links, and staff managing logins."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select
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
    as_utc,
    new_session_token,
    utcnow,
)
from services import emails, invites, signals, texts
from services.passwords import FirstTime, first_time_token, token_for
from services.accounts import check_credentials, check_password_strength, clean_email, hash_password, normalize_email
from services.errors import DomainError, FieldErrors
from services.settings import get_settings

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
    """Email a reset link to an active login; a first-time link to a client on file with no login (when the
    site option is on); for any other address, tell the team instead."""
    address = normalize_email(email)[:254]
    login = login_by_email(address)
    if login is not None and login.active:
        emails.send_password_email(login, token_for(login, "reset"), "reset")
        return
    client = first_time_profile(address) if login is None and get_settings().first_time_passwords else None
    if client is not None:
        emails.send_first_password_email(client, address, first_time_token(client, address))
    else:
        emails.send_unknown_reset_email(address)


def first_time_profile(address: str) -> ClientProfile | None:
    """The one profile whose primary email `address` is (in any case), or None: none, or several (which
    profile a login belongs to is then for staff to say)."""
    ids = db.session.scalars(select(ClientEmail.client_id).distinct()
                             .where(func.lower(ClientEmail.email) == address, ClientEmail.is_primary.is_(True))
                             .limit(2)).all()
    profile = db.session.get(ClientProfile, ids[0]) if len(ids) == 1 else None
    # A former (inactive) client does not give themselves the portal back; staff decide that.
    return profile if profile is not None and profile.status != ClientStatus.INACTIVE else None


def create_first_login(first: FirstTime, password: str) -> ClientLogin:
    """A first-time link's password chosen: the login is created on its profile, named as the profile is.

    Two tabs using one link race on client_login.email's unique constraint: the loser is refused."""
    try:
        check_password_strength(password)
    except DomainError as error:
        raise FieldErrors({"password": error.message}) from None
    client = first.client
    login = ClientLogin(client_id=client.id, email=first.email, first_name=client.first_name,
                        last_name=client.last_name, password_hash=hash_password(password), last_login_at=utcnow())
    db.session.add(login)
    try:
        db.session.flush()
    except IntegrityError:
        raise DomainError(_existing_login()) from None
    return login


def set_password_for(login: ClientLogin, password: str, staff: StaffUser) -> None:
    """Staff set a login's password for a client who cannot use email: its other sessions end, the client
    is told by email (never the password), and who did it goes to the app log."""
    if not login.active:
        raise DomainError(_("Enable this login before setting its password."))
    try:
        check_password_strength(password)
    except DomainError as error:
        raise FieldErrors({"password": error.message}) from None
    login.password_hash = hash_password(password)
    login.session_token = new_session_token()
    emails.send_password_set_by_staff_email(login, staff)
    # A warning, so the default logging keeps it: it is the record of who set a client's password.
    current_app.logger.warning("staff %s <%s> set the password of client login %s <%s>", staff.id, staff.email,
                               login.id, login.email)


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


LOGIN_SORTS = {
    "name": (ClientLogin.last_name, ClientLogin.first_name),
    "client": (ClientProfile.last_name, ClientProfile.first_name),
    "email": (ClientLogin.email,),
    "last": (ClientLogin.last_login_at,),
}


@dataclass(frozen=True)
class LoginQuery:
    """The state of the Client Logins table, as it appears in the URL."""

    q: str = ""
    sort: str = "name"
    direction: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> LoginQuery:
        try:
            page = min(max(1, int(args.get("page", 1))), 100_000)
        except ValueError:
            page = 1
        sort = args.get("sort", "name")
        return cls(q=args.get("q", "").strip()[:100], sort=sort if sort in LOGIN_SORTS else "name",
                   direction="desc" if args.get("dir") == "desc" else "asc", page=page)

    def args(self, **changes) -> dict:
        """Query-string arguments for this state with `changes`, leaving defaults out."""
        values = {"q": self.q, "sort": self.sort, "dir": self.direction, "page": self.page, **changes}
        defaults = {"q": "", "sort": "name", "dir": "asc", "page": 1}
        return {k: v for k, v in values.items() if v != defaults[k]}


@dataclass(frozen=True)
class LoginRow:
    """One line of the Client Logins table, read as plain columns."""

    id: int
    client_id: int
    client_name: str
    email: str
    name: str
    active: bool
    password: str  # "set", "invited" (a set-password link may still be in use) or "none"
    last_login_at: datetime | None


@dataclass
class LoginPage:
    rows: list[LoginRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_logins(viewer: StaffUser, query: LoginQuery, per_page: int) -> LoginPage:
    """One page of every client login with its profile, for owners and managers: a count and a page of plain
    rows, two queries whatever the number of logins."""
    if not (viewer.is_staff and viewer.can_manage):
        return LoginPage([], 0, 1, per_page)
    conditions = texts.search_terms(query.q, (ClientLogin.email, ClientLogin.first_name, ClientLogin.last_name,
                                              ClientProfile.first_name, ClientProfile.last_name))
    joined = select(ClientLogin.id).join(ClientProfile, ClientProfile.id == ClientLogin.client_id).where(*conditions)
    total = db.session.scalar(joined.with_only_columns(func.count(ClientLogin.id)))
    page = min(query.page, max(1, -(-total // per_page)))  # past the end: the last page
    order = [(c.desc() if query.direction == "desc" else c.asc()).nulls_last() for c in LOGIN_SORTS[query.sort]]
    rows = db.session.execute(joined.with_only_columns(
        ClientLogin.id, ClientLogin.client_id, ClientProfile.first_name, ClientProfile.last_name, ClientLogin.email,
        ClientLogin.first_name, ClientLogin.last_name, ClientLogin.active, ClientLogin.password_hash.is_not(None),
        ClientLogin.created_at, ClientLogin.last_login_at,
    ).order_by(*order, ClientLogin.id).limit(per_page).offset((page - 1) * per_page)).all()
    invited_since = utcnow() - timedelta(days=current_app.config["PASSWORD_SET_DAYS"])
    return LoginPage([LoginRow(
        id=r[0], client_id=r[1], client_name=f"{r[2]} {r[3]}".strip(), email=r[4],
        name=f"{r[5]} {r[6]}".strip(), active=r[7],
        password="set" if r[8] else "invited" if as_utc(r[9]) > invited_since else "none", last_login_at=r[10],
    ) for r in rows], total, page, per_page)


def load_any_login(login_id: int, viewer: StaffUser) -> ClientLogin | None:
    """Any client login, for owners and managers (the Client Logins page)."""
    if not (viewer.is_staff and viewer.can_manage):
        return None
    return db.session.get(ClientLogin, login_id)
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
    rows = db.session.execute(_AGREEMENTS_OF, {"client_id": client_id})
    return [Agreement(title, version, at, ip, f"{first} {last}".strip() or email)
            for title, version, at, ip, first, last, email in rows]


# Built once, as the profile's other statements are (building one costs about what running it does).
_AGREEMENTS_OF = (
    select(Policy.title, PolicyAgreement.policy_version, PolicyAgreement.agreed_at, PolicyAgreement.ip_address,
           ClientLogin.first_name, ClientLogin.last_name, ClientLogin.email)
    .join(Policy, Policy.id == PolicyAgreement.policy_id)
    .join(ClientLogin, ClientLogin.id == PolicyAgreement.login_id)
    .where(ClientLogin.client_id == bindparam("client_id"))
    .order_by(PolicyAgreement.agreed_at.desc(), PolicyAgreement.id.desc())
)
