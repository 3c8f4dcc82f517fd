"""Pawtal's database models (SQLAlchemy 2 typed declarative)."""
from __future__ import annotations

import enum
import logging
import re
import secrets
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    false,
    true,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from filters import clock, formatted, local_zone, ngettext, once_per_request
from filters import gettext as _
from filters import lazy_gettext as _l


def N_(text: str) -> str:
    """Mark English for `pybabel extract` where it must stay English here and is translated where it is shown."""
    return text


# How the business rules a configurable field (SiteSettings.client_field_rules and pet_field_rules).
REQUIRED, OPTIONAL, HIDDEN = "required", "optional", "hidden"

# Named time windows of a visit, in the business's local time; any other window is a custom range.
WINDOWS: dict[str, tuple[str, time, time]] = {
    "morning": (_l("Morning"), time(8), time(11)),
    "midday": (_l("Midday"), time(11), time(14)),
    "evening": (_l("Evening"), time(17), time(20)),
}
CUSTOM = "custom"

# Passwords of staff and client logins: at least this long, and not only letters or only digits.
MIN_PASSWORD_LENGTH = 10


# Ids are 32-bit integers on PostgreSQL: a longer number, or digits other than ASCII ("²", "١٢"), name no row.
MAX_ID = 2**31 - 1
_ID = re.compile(r"[0-9]{1,10}")


def parse_id(text: object) -> int | None:
    """An id as a URL or a form writes it ("42"), or None for anything that could name no row of ours."""
    if not isinstance(text, str) or not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def window_label(window: str, starts_at: datetime, ends_at: datetime) -> str:
    """ "Morning, 8–11 AM" or "2:30–3 PM", in the business's local time."""
    # A week of visits has a few windows and times, many times over: each label is made once a request, and found
    # again by the stored times before they are converted (a day's visits in one window share them).
    labels = once_per_request("_pawtal_windows", dict)
    stored = (window, starts_at, ends_at)
    if stored in labels:
        return labels[stored]
    zone = local_zone()
    start, end = as_utc(starts_at).astimezone(zone).time(), as_utc(ends_at).astimezone(zone).time()
    key = (window, start, end)
    if key not in labels:
        span = _("%(start)s–%(end)s", start=clock(start), end=clock(end))
        labels[key] = _("%(window)s, %(span)s", window=WINDOWS[window][0], span=span) if window in WINDOWS else span
    labels[stored] = labels[key]
    return labels[key]


def tidy_species(text: str) -> str:
    """ "dog" -> "Dog", "guinea pig" -> "Guinea pig": one spelling per species in lists and filters.

    Only text typed all in lower case is changed; "BEAGLE mix" or "Dog" stay as written.
    """
    text = " ".join((text or "").split())
    return text[:1].upper() + text[1:] if text.islower() else text


def describe_age(year: int | None, month: int | None, day: int | None, today: date) -> str:
    """Age in words, as precise as the birth date: "about 7 years", "2 years 3 months", "5 weeks"."""
    if not year:
        return ""
    if not month:
        years = today.year - year
        if years <= 0:
            return _("under a year")
        return _("about %(age)s", age=ngettext("%(num)d year", "%(num)d years", years))
    born = date(year, month, day or 1)
    months = (today.year - born.year) * 12 + today.month - born.month
    if day and today.day < born.day:
        months -= 1
    if months < 0:
        return ""
    if months == 0 and day:
        weeks = (today - born).days // 7
        return ngettext("%(num)d week", "%(num)d weeks", weeks) if weeks else _("newborn")
    years, rest = divmod(months, 12)
    year_text = ngettext("%(num)d year", "%(num)d years", years)
    month_text = ngettext("%(num)d month", "%(num)d months", rest)
    if years and rest:
        text = _("%(years)s %(months)s", years=year_text, months=month_text)
    else:
        text = year_text if years else month_text if rest else _("under a month")
    return text if day else _("about %(age)s", age=text)


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


def new_calendar_token() -> str:
    return secrets.token_urlsafe(32)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Role(str, enum.Enum):
    OWNER = "owner"
    MANAGER = "manager"
    SITTER = "sitter"

    @property
    def label(self) -> str:
        return {"owner": _l("Owner"), "manager": _l("Manager"), "sitter": _l("Sitter")}[self.value]


class ClientStatus(str, enum.Enum):
    PROSPECT = "prospect"
    ACTIVE = "active"
    INACTIVE = "inactive"

    @property
    def label(self) -> str:
        return {"prospect": _l("Prospect"), "active": _l("Active"), "inactive": _l("Inactive")}[self.value]


class StaffUser(UserMixin, TimestampMixin, db.Model):
    """A member of the business's team: owner, manager or sitter."""

    __tablename__ = "staff_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]))
    # None until an invited staff member sets a password through the emailed link.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Changing it signs the user out everywhere (it is part of the session id).
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)
    # The secret of this account's iCal feed URL; replaced to revoke the old URL.
    calendar_token: Mapped[str] = mapped_column(String(43), unique=True, default=new_calendar_token)
    # Two-factor sign-in: the TOTP secret (base32) of the authenticator app, kept readable to check codes; set
    # only once a code from the app confirmed it. The last time step used, so no code works twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    two_factor_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The secret being set up, until a code from the app confirms it (it becomes totp_secret) or it expires: kept
    # here, as totp_secret is, so the session cookie (signed, not encrypted) never holds it.
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    recovery_codes: Mapped[list[StaffRecoveryCode]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", passive_deletes=True)

    is_staff = True

    def get_id(self) -> str:
        return f"staff:{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def can_manage(self) -> bool:
        """Owners and managers edit everything; sitters only read their clients."""
        return self.role in (Role.OWNER, Role.MANAGER)

    @property
    def two_factor_on(self) -> bool:
        """Signing in takes a code from an authenticator app (or a recovery code) after the password."""
        return self.totp_secret is not None


class StaffRecoveryCode(db.Model):
    """One of a staff member's one-time recovery codes, for signing in without the phone: only its keyed hash
    is kept, and using it deletes the row."""

    __tablename__ = "staff_recovery_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))

    staff: Mapped[StaffUser] = relationship(back_populates="recovery_codes")


class ClientLogin(UserMixin, TimestampMixin, db.Model):
    """A person who signs in to the client portal; belongs to exactly one Client Profile."""

    __tablename__ = "client_login"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(80), default="")
    last_name: Mapped[str] = mapped_column(String(80), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Changing it signs the login out everywhere (it is part of the session id).
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)
    calendar_token: Mapped[str] = mapped_column(String(43), unique=True, default=new_calendar_token)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When this login was shown "You're all set" after onboarding; the portal home says it once.
    welcomed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    client: Mapped[ClientProfile] = relationship(back_populates="logins")

    is_staff = False

    def get_id(self) -> str:
        return f"client:{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


class Invitation(db.Model):
    """An invitation for a client profile to create its first login.

    The typed code and the link's token are stored only as keyed hashes; re-inviting revokes
    the older invitation; `used_at` is set by one conditional update, so a code works once.
    """

    __tablename__ = "invitation"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="CASCADE"), index=True)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    login_id: Mapped[int | None] = mapped_column(ForeignKey("client_login.id", ondelete="SET NULL"))

    client: Mapped[ClientProfile] = relationship(back_populates="invitations")
    sent_by: Mapped[StaffUser | None] = relationship()

    def state(self, now: datetime | None = None) -> str:
        """pending, used, revoked or expired."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if as_utc(self.expires_at) <= (now or utcnow()) else "pending"


class PolicyAgreement(db.Model):
    """A client login agreed to a version of a policy: when and from where."""

    __tablename__ = "policy_agreement"
    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"), index=True)
    policy_version: Mapped[int] = mapped_column(Integer)
    login_id: Mapped[int] = mapped_column(ForeignKey("client_login.id", ondelete="CASCADE"), index=True)
    agreed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ip_address: Mapped[str] = mapped_column(String(45), default="")

    policy: Mapped[Policy] = relationship()


class OutboxMessage(db.Model):
    """An email, stored in the transaction that caused it and sent afterwards, retried until delivered.

    Links and codes live only in `secrets` (the bodies hold placeholders) and are erased once the
    message is delivered.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "sent_at", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipients: Mapped[list] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    secrets: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set while one sender holds the message, so two workers never send it twice.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Files sent with the message: [{"filename", "content_type", "data" (base64)}], erased once delivered.
    attachments: Mapped[list | None] = mapped_column(JSON)
    # Headers of this message beyond those of its kind ({"List-Unsubscribe": "<[[secret:unsubscribe]]>"}), with
    # placeholders filled from `secrets` when it is sent, as the bodies are.
    headers: Mapped[dict | None] = mapped_column(JSON)

    @property
    def state(self) -> str:
        if self.sent_at is not None:
            return "sent"
        return "failing" if self.last_error else "queued"


class Service(db.Model):
    __tablename__ = "service"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    base_price_cents: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    checklist: Mapped[list[ChecklistItem]] = relationship(
        back_populates="service", order_by="(ChecklistItem.position, ChecklistItem.id)",
        primaryjoin="and_(ChecklistItem.service_id == Service.id, ChecklistItem.active.is_(True))", viewonly=True,
    )


class ChecklistItem(db.Model):
    """One line of a service's visit report card ("Fed", "Fresh water"), which the sitter ticks."""

    __tablename__ = "checklist_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(120))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # A removed item leaves the card; the reports that had it keep their copy of it.
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    service: Mapped[Service] = relationship(back_populates="checklist")


class Vet(db.Model):
    __tablename__ = "vet"
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic: Mapped[str] = mapped_column(String(160), unique=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(300), default="")


class Territory(db.Model):
    __tablename__ = "territory"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    zips: Mapped[list[TerritoryZip]] = relationship(
        back_populates="territory", cascade="all, delete-orphan", order_by="TerritoryZip.zip"
    )

    @property
    def zip_codes(self) -> str:
        return ", ".join(z.zip for z in self.zips)


class TerritoryZip(db.Model):
    """One zip code of a territory; a zip belongs to at most one territory."""

    __tablename__ = "territory_zip"
    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"), index=True)
    zip: Mapped[str] = mapped_column(String(12), unique=True)
    territory: Mapped[Territory] = relationship(back_populates="zips")


class Policy(TimestampMixin, db.Model):
    __tablename__ = "policy"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    required_at_registration: Mapped[bool] = mapped_column(Boolean, default=False)


# Portal functions the business can switch off: site option -> label (English; the form translates it).
PORTAL_FEATURES = {
    "portal_profile": N_("Clients edit their profile (My Info)"),
    "portal_pets": N_("Clients add and edit their pets (My Pets)"),
    "portal_forms": N_("Clients fill in forms (My Forms)"),
    "portal_requests": N_("Clients request visits"),
    "portal_calendar": N_("Clients see their calendar"),
    "portal_cards": N_("Clients manage their card on file"),
    "portal_invoices": N_("Clients see invoices"),
    "portal_payments": N_("Clients see payments"),
    "portal_visit_reports": N_("Clients see visit reports"),
    "portal_messages": N_("Clients write to the business (Messages)"),
}


# Whether check-in and check-out store the phone's location: never, when the sitter allows it, or always.
LOCATION_MODES = {"off": N_("Off: never ask for the location"),
                  "asked": N_("Asked: stored when the sitter allows it"),
                  "required": N_("Required: no check-in or check-out without it")}


class SiteSettings(db.Model):
    """The business's site options: a single row, id 1."""

    __tablename__ = "site_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    clients_can_register: Mapped[bool] = mapped_column(Boolean, default=True)
    billing_requires_card: Mapped[bool] = mapped_column(Boolean, default=False)
    client_field_rules: Mapped[dict] = mapped_column(JSON, default=dict)
    pet_field_rules: Mapped[dict] = mapped_column(JSON, default=dict)
    # Portal feature switches: a function switched off is gone from the portal's menu and its routes 404.
    portal_profile: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    portal_pets: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    portal_forms: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    portal_requests: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    portal_calendar: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    portal_cards: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    portal_invoices: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    portal_payments: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    portal_visit_reports: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    portal_messages: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    accept_bank_accounts: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A client who cancels less than this many hours before a visit starts makes a late cancellation.
    cancellation_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    # The last import's choices, {normalised column name: field}: the next file with those columns starts there.
    import_mapping: Mapped[dict | None] = mapped_column(JSON, default=dict)
    # Check-in and check-out: whether the sitter's phone is asked for its location (LOCATION_MODES).
    location_mode: Mapped[str] = mapped_column(String(8), default="asked", server_default="asked")
    # A finished visit shorter than this share of its service's duration is flagged as short.
    short_visit_percent: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    # No check-out until the visit report is sent.
    report_before_checkout: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A visit with no check-in this many minutes after its window starts is late on the office's board.
    late_grace_minutes: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    # Minutes a sitter needs between two visits; closer visits are warned about.
    travel_gap_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Warn when a visit to a client who uses keys goes to a sitter who holds no key.
    key_notices: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The business's own details, edited in the browser. None until the owner saves them: until then the
    # PAWTAL_BUSINESS_* environment variables stand in (services.settings.business()).
    business_name: Mapped[str | None] = mapped_column(String(160))
    business_address: Mapped[str | None] = mapped_column(Text)
    business_phone: Mapped[str | None] = mapped_column(String(40))
    business_email: Mapped[str | None] = mapped_column(String(254))
    business_tax_number: Mapped[str | None] = mapped_column(String(60))
    business_website: Mapped[str | None] = mapped_column(String(200))
    # The logo's stored file (re-encoded PNG under a random name in the upload folder), or None.
    business_logo: Mapped[str | None] = mapped_column(String(80))
    # Billing (BILLING_MODES, BILLING_CYCLES): how visits become invoices.
    billing_mode: Mapped[str] = mapped_column(String(12), default="cycle", server_default="cycle")
    billing_cycle: Mapped[str] = mapped_column(String(12), default="monthly", server_default="monthly")
    # Monthly cycles start on this day of the month (1-28); weekly and two-weekly ones on the anchor's weekday.
    billing_cycle_day: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    billing_cycle_anchor: Mapped[date | None] = mapped_column(Date)
    # Days from issue to due date (PAYMENT_TERMS): 0 is "due on receipt".
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")
    # Sales tax in hundredths of a percent (825 = 8.25%), on every line; 0: no tax.
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tax_label: Mapped[str] = mapped_column(String(40), default="Tax", server_default="Tax")
    # Overdue reminders go out this many days after the due date, each once per invoice.
    reminder_days: Mapped[list] = mapped_column(JSON, default=lambda: [7, 30])
    # How to pay, in the business's words, on invoices and the client's account page.
    how_to_pay: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Late cancellation fees: [{"hours": 24, "percent": 50}, {"hours": 2, "percent": 100}]; a client who
    # cancels less than `hours` before the visit starts pays `percent` of its price (the tightest tier wins).
    late_fee_tiers: Mapped[list] = mapped_column(JSON, default=list)
    # Online payments through Stripe: clients pay from the portal; optional tips (percentages offered);
    # autopay offered or required, and the days after a failed charge on which it is tried again.
    online_payments: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    tips_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    tip_percents: Mapped[list] = mapped_column(JSON, default=lambda: [10, 15, 20])
    autopay_mode: Mapped[str] = mapped_column(String(10), default="offered", server_default="offered")
    autopay_retry_days: Mapped[list] = mapped_column(JSON, default=lambda: [1, 3, 7])
    # The owner requires two-factor sign-in of managers: one without it is sent to set it up before anything else.
    managers_need_two_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A client whose email is on a profile but who has no login may get a first password by "Set / reset
    # password" (the link creates their login on that profile).
    first_time_passwords: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The business's own client FAQ, in Markdown (shown sanitised on the sign-in page and in the portal).
    faq_markdown: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The public intake form for new clients (/start): on or off, and its title.
    intake_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    intake_title: Mapped[str] = mapped_column(String(120), default="Start with us", server_default="Start with us")
    # The public Contact page (/contact), for anyone to write to the business.
    contact_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    @property
    def location(self) -> str:
        """The location mode, "asked" for anything unknown."""
        return self.location_mode if self.location_mode in LOCATION_MODES else "asked"


client_blocked_sitter = Table(
    "client_blocked_sitter",
    db.metadata,
    Column("client_id", ForeignKey("client_profile.id", ondelete="CASCADE"), primary_key=True),
    Column("staff_id", ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True),
)


SEARCH_TEXT_MAX = 480


class ClientProfile(TimestampMixin, db.Model):
    """A household the business serves. Not a login: see ClientLogin."""

    __tablename__ = "client_profile"
    # One index per sort order of the client table, and one that a search scans instead of the table.
    __table_args__ = (
        Index("ix_client_profile_name", "last_name", "first_name"),
        Index("ix_client_profile_status_name", "status", "last_name", "first_name"),
        Index("ix_client_profile_city_name", "city", "last_name", "first_name"),
        Index("ix_client_profile_created_at", "created_at"),
        Index("ix_client_profile_search", "search_text", "last_name", "first_name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    status: Mapped[ClientStatus] = mapped_column(
        Enum(ClientStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=ClientStatus.PROSPECT,
    )
    mobile_phone: Mapped[str] = mapped_column(String(40), default="")
    home_phone: Mapped[str] = mapped_column(String(40), default="")
    work_phone: Mapped[str] = mapped_column(String(40), default="")
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(60), default="")
    zip: Mapped[str] = mapped_column(String(12), default="")
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id", ondelete="SET NULL"), index=True)
    territory_manual: Mapped[bool] = mapped_column(Boolean, default=False)
    uses_keys: Mapped[bool] = mapped_column(Boolean, default=False)
    key_notes: Mapped[str] = mapped_column(Text, default="")
    # Shown to the assigned sitter on the day of her visit only; each showing is logged (VisitEvent).
    lockbox_code: Mapped[str] = mapped_column(String(40), default="", server_default="")
    vet_id: Mapped[int | None] = mapped_column(ForeignKey("vet.id", ondelete="SET NULL"), index=True)
    emergency_name: Mapped[str] = mapped_column(String(160), default="")
    emergency_phone: Mapped[str] = mapped_column(String(40), default="")
    primary_sitter_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"), index=True)
    secondary_sitter_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), index=True
    )
    staff_notes: Mapped[str] = mapped_column(Text, default="")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Autopay: the client's consent to have each invoice charged to the card on file on its due date, when
    # they gave it and the words they agreed to (kept as shown, so a later change of wording is not theirs).
    autopay: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    autopay_consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    autopay_consent_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Kept up to date by services.onboarding, so staff can filter on it; the portal recomputes it live.
    onboarding_complete: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    # When and why a Prospect became Active on its own (its first priced visit).
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    activated_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Erased by the owner (services.erasure): the personal data is gone, the money records stay under "Erased client N".
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    erased_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    erased_by_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Digits of every phone, space-separated, so "555-0101" finds "(555) 010-0101".
    phone_digits: Mapped[str] = mapped_column(String(130), default="")
    # Lower-case names, emails, phone digits and pet names: one scan of its index serves the desk
    # search. Capped so the index entry stays within PostgreSQL's B-tree row limit.
    search_text: Mapped[str] = mapped_column(String(SEARCH_TEXT_MAX), default="")

    emails: Mapped[list[ClientEmail]] = relationship(
        back_populates="client", cascade="all, delete-orphan", order_by="(ClientEmail.is_primary.desc(), ClientEmail.id)"
    )
    pets: Mapped[list[Pet]] = relationship(back_populates="client", cascade="all, delete-orphan", order_by="Pet.name")
    logins: Mapped[list[ClientLogin]] = relationship(
        back_populates="client", cascade="all, delete-orphan", order_by="ClientLogin.id"
    )
    invitations: Mapped[list[Invitation]] = relationship(
        back_populates="client", cascade="all, delete-orphan", order_by="Invitation.created_at.desc()"
    )
    territory: Mapped[Territory | None] = relationship()
    vet: Mapped[Vet | None] = relationship()
    primary_sitter: Mapped[StaffUser | None] = relationship(foreign_keys=[primary_sitter_id])
    secondary_sitter: Mapped[StaffUser | None] = relationship(foreign_keys=[secondary_sitter_id])
    blocked_sitters: Mapped[list[StaffUser]] = relationship(secondary=client_blocked_sitter)
    payment_methods: Mapped[list[PaymentMethod]] = relationship(
        cascade="all, delete-orphan", order_by="PaymentMethod.created_at.desc()"
    )
    key_holders: Mapped[list[KeyHolder]] = relationship(
        back_populates="client", cascade="all, delete-orphan", order_by="KeyHolder.id"
    )
    prices: Mapped[list[CustomPrice]] = relationship(
        back_populates="client",
        cascade="all, delete-orphan",
        order_by="(CustomPrice.effective_on.desc(), CustomPrice.id.desc())",
    )

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def refresh_search_text(self) -> None:
        """Rebuild search_text from the profile, its emails and its pets."""
        parts = [self.first_name, self.last_name, self.phone_digits]
        parts += [e.email for e in self.emails] + [p.name for p in self.pets]
        self.search_text = " ".join(p for p in parts if p).lower()[:SEARCH_TEXT_MAX]

    @property
    def sort_name(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    @property
    def primary_emails(self) -> list[str]:
        return [e.email for e in self.emails if e.is_primary]

    @property
    def first_email(self) -> str:
        return self.emails[0].email if self.emails else ""

    @property
    def first_phone(self) -> str:
        return self.mobile_phone or self.home_phone or self.work_phone

    @property
    def has_login(self) -> bool:
        return bool(self.logins)

    @property
    def active_pets(self) -> list[Pet]:
        return [p for p in self.pets if p.active]

    @property
    def address_lines(self) -> list[str]:
        city_line = " ".join(x for x in [f"{self.city}," if self.city else "", self.state, self.zip] if x)
        return [line for line in (self.address_line1, self.address_line2, city_line.strip(" ,")) if line]


class KeyHolder(db.Model):
    """A staff member who holds a client's key or knows the lockbox code."""

    __tablename__ = "key_holder"
    __table_args__ = (UniqueConstraint("client_id", "staff_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    has_key: Mapped[bool] = mapped_column(Boolean, default=True)
    knows_code: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    client: Mapped[ClientProfile] = relationship(back_populates="key_holders")
    staff: Mapped[StaffUser] = relationship()


# PostgreSQL: the client search's LIKE '%word%' (services.texts.bytewise) found by the text's trigrams instead of by
# reading every client's row. Made by migration 0022, here when create_all makes the table (the tests, the bench),
# and again after a restore (pg_dump of Pawtal's schema leaves the extension out). Not an Index of the table:
# PostgreSQL keeps `search_text COLLATE "C"` as the column with a collation, which Alembic cannot compare with the
# expression, so autogenerate and the schema test leave DATABASE_ONLY_INDEXES alone.
SEARCH_TRIGRAM_INDEX = "ix_client_profile_search_trigram"
DATABASE_ONLY_INDEXES = frozenset({SEARCH_TRIGRAM_INDEX})


def index_client_search(connection) -> str | None:
    """Make the client search's trigram index on PostgreSQL, the pg_trgm extension first. Returns why it could not
    be made (a role that may not create the extension or use its schema), or None: made, there already, or not
    PostgreSQL. A refusal undoes only this."""
    if connection.dialect.name != "postgresql":
        return None
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            # By the extension's schema: one installed outside the search path is found all the same.
            schema = connection.exec_driver_sql(
                "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").scalar()
            connection.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {SEARCH_TRIGRAM_INDEX} ON client_profile "
                                       f'USING gin ((search_text COLLATE "C") {schema}.gin_trgm_ops)')
    except DBAPIError as error:
        return (str(error.orig).strip().splitlines() or [repr(error)])[0]
    return None


def _index_after_create(_table, connection, **_) -> None:
    refused = index_client_search(connection)
    if refused:
        logging.getLogger(__name__).warning("The client search's trigram index was not made (%s).", refused)


event.listen(ClientProfile.__table__, "after_create", _index_after_create)


def alembic_includes(obj, name, kind, reflected, compare_to) -> bool:
    """Alembic's include_object: everything but DATABASE_ONLY_INDEXES."""
    return not (kind == "index" and name in DATABASE_ONLY_INDEXES)


class ClientEmail(db.Model):
    """An email address of a client profile; invitations go to the primary ones."""

    __tablename__ = "client_email"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=True)
    client: Mapped[ClientProfile] = relationship(back_populates="emails")


class CustomPrice(db.Model):
    """A client's own price for a service from a date on. Rows are never edited: the history stays."""

    __tablename__ = "custom_price"
    __table_args__ = (Index("ix_custom_price_lookup", "client_id", "service_id", "effective_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    price_cents: Mapped[int] = mapped_column(Integer)
    effective_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))

    client: Mapped[ClientProfile] = relationship(back_populates="prices")
    service: Mapped[Service] = relationship()
    created_by: Mapped[StaffUser | None] = relationship()


class Photo(db.Model):
    """A re-encoded image uploaded for one of a client's pets; the file name is random."""

    __tablename__ = "photo"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="CASCADE"), index=True)
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# A pet's sex: the stored value (English words, kept as they are) -> what people read.
SEXES = {"": "—", "Female": _l("Female"), "Female (spayed)": _l("Female (spayed)"), "Male": _l("Male"),
         "Male (neutered)": _l("Male (neutered)"), "Unknown": _l("Unknown")}


class Pet(TimestampMixin, db.Model):
    __tablename__ = "pet"
    __table_args__ = (Index("ix_pet_client_active", "client_id", "active"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80), index=True)
    species: Mapped[str] = mapped_column(String(40))
    breed: Mapped[str] = mapped_column(String(80), default="")
    sex: Mapped[str] = mapped_column(String(20), default="")
    colour: Mapped[str] = mapped_column(String(80), default="")
    weight: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    born_year: Mapped[int | None] = mapped_column(Integer)
    born_month: Mapped[int | None] = mapped_column(Integer)
    born_day: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    care_notes: Mapped[str] = mapped_column(Text, default="")
    feeding: Mapped[str] = mapped_column(Text, default="")
    medications: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id", ondelete="SET NULL"))

    client: Mapped[ClientProfile] = relationship(back_populates="pets")
    photo: Mapped[Photo | None] = relationship()
    vaccinations: Mapped[list[Vaccination]] = relationship(
        back_populates="pet", cascade="all, delete-orphan", order_by="Vaccination.expires_on"
    )
    # Certificates and other files attached to the pet (not the files answering a form).
    documents: Mapped[list[Document]] = relationship(
        primaryjoin="and_(Document.pet_id == Pet.id, Document.for_form.is_(False))",
        order_by="Document.created_at.desc()", viewonly=True,
    )

    @property
    def sex_label(self) -> str:
        """The sex as people read it (a value imported from a spreadsheet may be any text: shown as it is)."""
        return SEXES.get(self.sex, self.sex) if self.sex else ""

    @property
    def born_text(self) -> str:
        if not self.born_year:
            return ""
        if self.born_month and self.born_day:
            return formatted(date(self.born_year, self.born_month, self.born_day), "date")
        if self.born_month:
            return formatted(date(self.born_year, self.born_month, 1), "short_month_year")
        return str(self.born_year)

    def age(self, today: date | None = None) -> str:
        """The pet's age in words, as precise as the partial birth date allows."""
        return describe_age(self.born_year, self.born_month, self.born_day, today or date.today())


class Vaccination(db.Model):
    __tablename__ = "vaccination"
    id: Mapped[int] = mapped_column(primary_key=True)
    pet_id: Mapped[int] = mapped_column(ForeignKey("pet.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    expires_on: Mapped[date | None] = mapped_column(Date)
    pet: Mapped[Pet] = relationship(back_populates="vaccinations")

    @property
    def expired(self) -> bool:
        return self.expires_on is not None and self.expires_on < date.today()


# The kinds of question a client form can ask, and how many questions one form may have.
FORM_FIELD_TYPES = {
    "short_text": _l("Short text"),
    "long_text": _l("Long text"),
    "yes_no": _l("Yes / no"),
    "choice": _l("Choice"),
    "date": _l("Date"),
    "number": _l("Number"),
    "file": _l("File (PDF or image)"),
    "signature": _l("Signature (typed name)"),
}
MAX_FORM_FIELDS = 40


class ClientForm(TimestampMixin, db.Model):
    """A form the business asks clients to fill in, once per client or once per pet.

    Its fields live in versions: editing the fields makes a new version, and every answer keeps
    the version it was given against, so old answers always read as they were written.
    """

    __tablename__ = "client_form"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    per_pet: Mapped[bool] = mapped_column(Boolean, default=False)
    onboarding: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    versions: Mapped[list[ClientFormVersion]] = relationship(
        back_populates="form", cascade="all, delete-orphan", order_by="ClientFormVersion.number"
    )

    @property
    def current(self) -> ClientFormVersion | None:
        return self.versions[-1] if self.versions else None


class ClientFormVersion(db.Model):
    """The fields of a form at one point in time: [{"key", "label", "type", "required", "choices"}]."""

    __tablename__ = "client_form_version"
    __table_args__ = (UniqueConstraint("form_id", "number", name="uq_client_form_version_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("client_form.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    fields: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    form: Mapped[ClientForm] = relationship(back_populates="versions")


class FormResponse(db.Model):
    """One filling-in of a form version by a client (about a pet, for per-pet forms). Never edited."""

    __tablename__ = "form_response"
    __table_args__ = (Index("ix_form_response_client_form", "client_id", "form_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("client_form.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("client_form_version.id", ondelete="CASCADE"))
    # History is never deleted with its client or pet: the database refuses, as services.clients does.
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="RESTRICT"))
    pet_id: Mapped[int | None] = mapped_column(ForeignKey("pet.id", ondelete="RESTRICT"), index=True)
    login_id: Mapped[int | None] = mapped_column(ForeignKey("client_login.id", ondelete="SET NULL"))
    answers: Mapped[dict] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    form: Mapped[ClientForm] = relationship()
    version: Mapped[ClientFormVersion] = relationship()
    pet: Mapped[Pet | None] = relationship()
    login: Mapped[ClientLogin | None] = relationship()


class Document(db.Model):
    """An uploaded file (PDF or image) of a client: a pet's vaccination certificate, or a form answer.

    Stored under a random name outside the web root and served only to who may see the client.
    """

    __tablename__ = "document"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="CASCADE"), index=True)
    pet_id: Mapped[int | None] = mapped_column(ForeignKey("pet.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(160), default="")
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    original_name: Mapped[str] = mapped_column(String(200), default="")
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    # Attached to a pet by the client or staff (False), or the answer to a form's file field (True).
    for_form: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PaymentMethod(db.Model):
    """A card or US bank account a client keeps on file with Stripe.

    Only Stripe's id and what the client is shown are kept; card numbers never reach Pawtal.
    """

    __tablename__ = "payment_method"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="CASCADE"), index=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # card, us_bank_account
    brand: Mapped[str] = mapped_column(String(40), default="")  # card brand, or the bank's name
    last4: Mapped[str] = mapped_column(String(4), default="")
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    # A bank account waits for verification (e.g. micro-deposits) before it can be used.
    status: Mapped[str] = mapped_column(String(20), default="active")  # active, pending
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def usable(self) -> bool:
        return self.status == "active"

    @property
    def label(self) -> str:
        if self.kind == "card":
            return _("%(brand)s ending %(last4)s", brand=self.brand.title(), last4=self.last4)
        return _("%(brand)s ending %(last4)s", brand=self.brand or _("Bank account"), last4=self.last4)


class StripeEvent(db.Model):
    """A Stripe webhook event already handled: a replay of the same id changes nothing."""

    __tablename__ = "stripe_event"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RequestStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    PARTIAL = "partial"
    DECLINED = "declined"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {"pending": _l("Waiting for approval"), "approved": _l("Approved"), "partial": _l("Partly approved"),
                "declined": _l("Declined"), "cancelled": _l("Cancelled")}[self.value]


class VisitStatus(str, enum.Enum):
    REQUESTED = "requested"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    MISSED = "missed"
    # Before check-in existed a visit counted as done once its time passed: kept apart, not invented.
    UNRECORDED = "done_unrecorded"
    DECLINED = "declined"
    CANCELLED = "cancelled"


# Visits that hold a time in the diary (a sitter's, a client's): asked for, booked, under way or done.
BOOKED = (VisitStatus.SCHEDULED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED, VisitStatus.UNRECORDED)

# What the calendars show of a visit's state (Visit.state, CalendarVisit.state): state -> label.
# "no_check_in" is a scheduled visit whose window has ended without a check-in.
VISIT_STATES = {"requested": _l("Requested"), "scheduled": _l("Scheduled"), "in_progress": _l("In progress"),
                "completed": _l("Completed"), "missed": _l("Missed"),
                "done_unrecorded": _l("Completed, not checked in"), "no_check_in": _l("No check-in"),
                "declined": _l("Declined"), "cancelled": _l("Cancelled")}


def visit_state_label(state: str) -> str:
    """A state's label in this request's language, translated once a request (a week's calendar shows 400)."""
    return once_per_request("_pawtal_state_labels", lambda: {key: str(label) for key, label in VISIT_STATES.items()})[
        state]


def visit_state(status: VisitStatus, ends_at: datetime, now: datetime) -> str:
    """What a calendar shows: a scheduled visit whose window has ended without a check-in says so."""
    if status == VisitStatus.SCHEDULED and as_utc(ends_at) <= now:
        return "no_check_in"
    return status.value


visit_pet = Table(
    "visit_pet",
    db.metadata,
    Column("visit_id", ForeignKey("visit.id", ondelete="CASCADE"), primary_key=True),
    Column("pet_id", ForeignKey("pet.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


class VisitRequest(db.Model):
    """What a client (or staff on their behalf) asked for: one or more visits, decided together."""

    __tablename__ = "visit_request"
    __table_args__ = (Index("ix_visit_request_status_created", "status", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="RESTRICT"), index=True)
    login_id: Mapped[int | None] = mapped_column(ForeignKey("client_login.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    status: Mapped[RequestStatus] = mapped_column(
        Enum(RequestStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    decline_reason: Mapped[str] = mapped_column(Text, default="")

    client: Mapped[ClientProfile] = relationship()
    login: Mapped[ClientLogin | None] = relationship()
    created_by: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_id])
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])
    visits: Mapped[list[Visit]] = relationship(back_populates="request", order_by="Visit.starts_at")

    @property
    def total_cents(self) -> int:
        return sum(v.price_cents for v in self.visits)


class Visit(db.Model):
    """One visit at a time window on one day. `day` is the business's local date, for the calendars;
    the times are stored in UTC and shown in the business's time zone."""

    __tablename__ = "visit"
    __table_args__ = (
        Index("ix_visit_client_day", "client_id", "day"),
        Index("ix_visit_day_starts", "day", "starts_at"),
        Index("ix_visit_sitter_day", "sitter_id", "day"),
        # Which clients a sitter sees: those with a visit assigned to her (services.clients.sitter_sees).
        Index("ix_visit_sitter_client", "sitter_id", "client_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("visit_request.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="RESTRICT"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="RESTRICT"))
    sitter_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    day: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window: Mapped[str] = mapped_column(String(16))
    price_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[VisitStatus] = mapped_column(
        Enum(VisitStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]))
    notes: Mapped[str] = mapped_column(Text, default="")
    late_cancellation: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str] = mapped_column(String(10), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Server times of the sitter's taps (a manager's correction replaces them; the events keep the original),
    # and the phone's location at each tap when the sitter allowed it.
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    check_in_latitude: Mapped[float | None] = mapped_column(Float)
    check_in_longitude: Mapped[float | None] = mapped_column(Float)
    check_in_accuracy: Mapped[float | None] = mapped_column(Float)
    check_out_latitude: Mapped[float | None] = mapped_column(Float)
    check_out_longitude: Mapped[float | None] = mapped_column(Float)
    check_out_accuracy: Mapped[float | None] = mapped_column(Float)
    # A late cancellation's fee, fixed when the client cancelled (site option late_fee_tiers); a manager
    # may waive it with a reason. An unwaived fee goes on the client's next invoice.
    late_fee_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fee_waived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fee_waived_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    fee_waive_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    request: Mapped[VisitRequest | None] = relationship(back_populates="visits")
    client: Mapped[ClientProfile] = relationship()
    service: Mapped[Service] = relationship()
    sitter: Mapped[StaffUser | None] = relationship(foreign_keys=[sitter_id])
    fee_waived_by: Mapped[StaffUser | None] = relationship(foreign_keys=[fee_waived_by_id])
    pets: Mapped[list[Pet]] = relationship(secondary=visit_pet, order_by="Pet.name")
    events: Mapped[list[VisitEvent]] = relationship(order_by="(VisitEvent.at, VisitEvent.id)", viewonly=True)
    reports: Mapped[list[VisitReport]] = relationship(order_by="VisitReport.version", viewonly=True)
    photos: Mapped[list[ReportPhoto]] = relationship(order_by="ReportPhoto.id", viewonly=True)

    @property
    def report(self) -> VisitReport | None:
        """The report's latest version."""
        return self.reports[-1] if self.reports else None

    @property
    def state(self) -> str:
        """What the calendars show (VISIT_STATES)."""
        return visit_state(self.status, self.ends_at, utcnow())

    @property
    def duration(self) -> timedelta | None:
        """How long the sitter was there, from check-in to check-out."""
        if self.checked_in_at is None or self.checked_out_at is None:
            return None
        return as_utc(self.checked_out_at) - as_utc(self.checked_in_at)

    def is_short(self, percent: int) -> bool:
        """Checked out after less than `percent` of the service's duration."""
        spent = self.duration
        return spent is not None and spent < timedelta(minutes=self.service.duration_minutes * percent / 100)

    @property
    def state_label(self) -> str:
        return visit_state_label(self.state)

    @property
    def open(self) -> bool:
        return self.status in (VisitStatus.REQUESTED, VisitStatus.SCHEDULED) and as_utc(self.starts_at) > utcnow()

    @property
    def when(self) -> str:
        """The time window in words, in the business's time zone."""
        return window_label(self.window, self.starts_at, self.ends_at)


class VisitEvent(db.Model):
    """What happened to a visit, when and by whom: check-in, check-out, undo, correction, reassignment,
    move, a lockbox code shown. Rows are only ever added."""

    __tablename__ = "visit_event"
    __table_args__ = (Index("ix_visit_event_visit_at", "visit_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    accuracy: Mapped[float | None] = mapped_column(Float)
    # What changed, as {"field": [old, new]} (times as ISO strings), and why (corrections need a reason).
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")

    staff: Mapped[StaffUser | None] = relationship()


# The longest notes a visit report keeps.
REPORT_NOTES_MAX = 4000

# A visit report's mood choices: stored value -> what people read.
MOODS = {"happy": _l("Happy"), "calm": _l("Calm"), "playful": _l("Playful"), "tired": _l("Tired"),
         "anxious": _l("Anxious"), "unwell": _l("Unwell")}


class VisitReport(db.Model):
    """One version of a visit's report card. Version 1 is what the sitter sent; a correction is a new
    version with who, when and why, and every version is kept."""

    __tablename__ = "visit_report"
    # A client's latest reports are read by (client_id, created_at), not through all of the client's visits.
    __table_args__ = (UniqueConstraint("visit_id", "version"), Index("ix_visit_report_client_sent", "client_id", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The card as it was filled: [{"label": ..., "required": bool, "done": bool}], so later edits of the
    # service's checklist leave it alone.
    checklist: Mapped[list] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    mood: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")

    created_by: Mapped[StaffUser | None] = relationship()
    photos: Mapped[list[ReportPhoto]] = relationship(back_populates="report", order_by="ReportPhoto.id")

    @property
    def mood_label(self) -> str:
        return str(MOODS.get(self.mood, self.mood))


class ReportPhoto(db.Model):
    """A photo taken at a visit: re-encoded without its EXIF, with a thumbnail, under random names.

    `report_id` is empty while the sitter is still filling the report; the sha256 of the stored file and
    the server's receive time show what was recorded when."""

    __tablename__ = "report_photo"
    __table_args__ = (Index("ix_report_photo_visit", "visit_id", "report_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("visit_report.id", ondelete="RESTRICT"), index=True)
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    thumb_name: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))

    report: Mapped[VisitReport | None] = relationship(back_populates="photos")


class BlockOut(db.Model):
    """Days the business takes no visits (vacation, closed); clients see them as unavailable."""

    __tablename__ = "block_out"
    __table_args__ = (Index("ix_block_out_days", "ends_on", "starts_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    created_by: Mapped[StaffUser | None] = relationship()

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


# ---- Billing -------------------------------------------------------------------------------------
# Money is integer cents in the business's one currency (PAWTAL_CURRENCY).

BILLING_MODES = {"per_visit": N_("One invoice per completed visit"),
                 "cycle": N_("On a cycle: the visits completed in the period"),
                 "advance": N_("In advance: the visits scheduled in the period")}
BILLING_CYCLES = {"weekly": N_("Weekly"), "biweekly": N_("Every two weeks"), "monthly": N_("Monthly")}
PAYMENT_TERMS = {0: N_("Due on receipt"), 7: N_("Net 7"), 14: N_("Net 14"), 30: N_("Net 30")}
INVOICE_PREFIX = "INV"


class InvoiceStatus(str, enum.Enum):
    DRAFT = "draft"
    SENT = "sent"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"
    VOID = "void"

    @property
    def label(self) -> str:
        return {"draft": _l("Draft"), "sent": _l("Sent"), "partly_paid": _l("Partly paid"), "paid": _l("Paid"),
                "void": _l("Void")}[self.value]


# Invoices a client owes on (issued, not yet paid in full).
OPEN_INVOICE = (InvoiceStatus.SENT, InvoiceStatus.PARTLY_PAID)
# Invoices that count in the client's balance.
ISSUED_INVOICE = (InvoiceStatus.SENT, InvoiceStatus.PARTLY_PAID, InvoiceStatus.PAID)


class InvoiceSequence(db.Model):
    """The last invoice number given in a year: taken with one UPDATE in the transaction that issues the
    invoice, so numbers have no gaps (a rolled back issue gives its number back)."""

    __tablename__ = "invoice_sequence"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Invoice(db.Model):
    """A bill to one client. A draft has no number and may be edited; issuing ("sending") gives it the
    next number and a ledger entry; after that it only changes by payments or a void (with a reason)."""

    __tablename__ = "invoice"
    __table_args__ = (
        Index("ix_invoice_client_issued", "client_id", "issued_on"),
        Index("ix_invoice_status_due", "status", "due_on"),
        Index("ix_invoice_issued", "issued_on"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="RESTRICT"))
    status: Mapped[InvoiceStatus] = mapped_column(
        Enum(InvoiceStatus, native_enum=False, length=12, values_callable=lambda e: [m.value for m in e]),
        default=InvoiceStatus.DRAFT)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    issued_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    terms_days: Mapped[int] = mapped_column(Integer, default=14)
    # The tax rate when the draft was made, in hundredths of a percent, and its label.
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    tax_label: Mapped[str] = mapped_column(String(40), default="Tax")
    subtotal_cents: Mapped[int] = mapped_column(Integer, default=0)
    tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(Integer, default=0)
    # What payments and credits allocated to it add up to (kept with each Allocation row).
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    void_reason: Mapped[str] = mapped_column(Text, default="")

    client: Mapped[ClientProfile] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="(InvoiceLine.position, InvoiceLine.id)")
    created_by: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_id])
    voided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[voided_by_id])

    @property
    def due_cents(self) -> int:
        return 0 if self.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID) else self.total_cents - self.paid_cents

    @property
    def title(self) -> str:
        return self.number or _("Draft invoice %(id)s", id=self.id)

    def overdue(self, today: date) -> bool:
        return self.status in OPEN_INVOICE and self.due_on is not None and self.due_on < today

    def days_overdue(self, today: date) -> int:
        return (today - self.due_on).days if self.overdue(today) else 0


# What an invoice line is: a visit, a late cancellation fee, a credit for an invoiced visit later cancelled,
# a discount (an amount or a percent of the visits) or an extra charge.
LINE_KINDS = {"visit": _l("Visit"), "fee": _l("Late cancellation fee"), "credit": _l("Credit for cancelled visit"),
              "discount": _l("Discount"), "charge": _l("Extra charge")}


class InvoiceLine(db.Model):
    """One line of an invoice. `billed_visit_id` is what keeps a visit from being billed twice: a unique
    (visit, kind) pair in the database, released only when the invoice is voided."""

    __tablename__ = "invoice_line"
    __table_args__ = (
        UniqueConstraint("billed_visit_id", "kind", name="uq_invoice_line_billed_visit"),
        Index("ix_invoice_line_visit", "visit_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column(Integer, default=0)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="RESTRICT"))
    billed_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="RESTRICT"))
    day: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(300))
    pets: Mapped[str] = mapped_column(String(300), default="")
    # A percent discount's rate in hundredths of a percent; its amount follows the visit lines.
    percent_bp: Mapped[int | None] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(Integer)
    tax_cents: Mapped[int] = mapped_column(Integer, default=0)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")
    visit: Mapped[Visit | None] = relationship(foreign_keys=[visit_id])

    @property
    def kind_label(self) -> str:
        return str(LINE_KINDS.get(self.kind, self.kind))


PAYMENT_METHODS = {"cash": _l("Cash"), "check": _l("Check"), "bank_transfer": _l("Bank transfer"),
                   "other": _l("Other"), "credit": _l("Account credit"), "card": _l("Card"),
                   "bank_debit": _l("Bank account (ACH)")}
# Autopay: clients may turn it on (offered), must have it with a card on file (required), or it is not offered.
AUTOPAY_MODES = {"off": _l("Not offered"), "offered": _l("Clients may turn it on"),
                 "required": _l("Required for clients with a card on file")}
# Methods staff record by hand; card and bank debits are recorded only when Stripe says they succeeded.
MANUAL_METHODS = ("cash", "check", "bank_transfer", "other")
# Why staff add credit.
CREDIT_REASONS = {"goodwill": _l("Goodwill"), "prepaid": _l("Prepaid")}


class Payment(db.Model):
    """Money received (cash, check, transfer...) or account credit given by staff. What is not allocated
    to invoices is the client's credit. Refunds raise `refunded_cents` by a conditional UPDATE, so two
    refunds at once never return more than was paid."""

    __tablename__ = "payment"
    __table_args__ = (Index("ix_payment_client_received", "client_id", "received_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(80), default="")
    received_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(Integer)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    allocated_cents: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    # What is left over goes to the next invoices by itself, oldest first, unless staff keep it back.
    auto_apply: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))

    client: Mapped[ClientProfile] = relationship()
    created_by: Mapped[StaffUser | None] = relationship()
    allocations: Mapped[list[Allocation]] = relationship(back_populates="payment", order_by="Allocation.id")
    online: Mapped[OnlinePayment | None] = relationship(back_populates="payment", uselist=False)
    tips: Mapped[list[Tip]] = relationship(back_populates="payment", order_by="Tip.id")

    @property
    def is_credit(self) -> bool:
        return self.method == "credit"

    @property
    def tip_cents(self) -> int:
        """The tip paid on top (online payments only); it is the sitters', not on the account."""
        return sum(tip.amount_cents for tip in self.tips)

    @property
    def method_label(self) -> str:
        return str(PAYMENT_METHODS.get(self.method, self.method))

    @property
    def unallocated_cents(self) -> int:
        return self.amount_cents - self.refunded_cents - self.allocated_cents

    @property
    def refundable_cents(self) -> int:
        """What is left to pay back: of the amount, and of a tip paid on top online (refunded last)."""
        if self.is_credit:
            return 0
        tip_left = self.online.tip_cents - self.online.tip_refunded_cents if self.online is not None else 0
        return self.amount_cents - self.refunded_cents + tip_left


class Allocation(db.Model):
    """Part of a payment put towards an invoice. Rows are only added: taking money back off an invoice
    (a refund, a void) is a negative row."""

    __tablename__ = "allocation"
    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id", ondelete="RESTRICT"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    invoice: Mapped[Invoice] = relationship()


LEDGER_KINDS = {"invoice": _l("Invoice"), "void": _l("Invoice voided"), "payment": _l("Payment"),
                "credit": _l("Credit"), "refund": _l("Refund")}


class LedgerEntry(db.Model):
    """One line of a client's account, never updated or deleted. A positive amount is owed by the client
    (an invoice issued, a refund paid out), a negative one is in their favour (a payment, a credit, a
    void). The balance is the sum; above zero the client owes, below zero they are in credit."""

    __tablename__ = "ledger_entry"
    __table_args__ = (Index("ix_ledger_entry_client_at", "client_id", "at", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    amount_cents: Mapped[int] = mapped_column(Integer)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id", ondelete="RESTRICT"), index=True)
    # A void names the entry it reverses; an entry is reversed at most once.
    # (NO ACTION, not RESTRICT: SQLite applies RESTRICT row by row, so a whole-table copy could not delete it.)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"), unique=True)
    memo: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))

    invoice: Mapped[Invoice | None] = relationship()
    payment: Mapped[Payment | None] = relationship()
    created_by: Mapped[StaffUser | None] = relationship()

    @property
    def kind_label(self) -> str:
        return str(LEDGER_KINDS.get(self.kind, self.kind))

    @property
    def day(self) -> date:
        """The business day it belongs to: an invoice's issue date, a payment's date received, else when it
        was written (in the business's time zone)."""
        if self.kind == "invoice" and self.invoice is not None and self.invoice.issued_on:
            return self.invoice.issued_on
        if self.kind in ("payment", "credit") and self.payment is not None:
            return self.payment.received_on
        return as_utc(self.at).astimezone(local_zone()).date()


# The states of a payment started through Stripe (one PaymentIntent). "processing" is a bank debit (ACH)
# on its way: shown as pending, in the ledger only once Stripe says it succeeded.
ONLINE_STATES = {"creating": _l("Starting"), "requires_action": _l("Waiting for your bank's check"),
                 "processing": _l("Pending"), "succeeded": _l("Paid"), "failed": _l("Failed"),
                 "canceled": _l("Cancelled")}
ONLINE_SOURCES = {"portal": _l("Paid online"), "staff": _l("Charged by staff"), "autopay": _l("Autopay")}


class OnlinePayment(db.Model):
    """A payment started through Stripe: one PaymentIntent, by the client in the portal, by staff with the card
    on file, or by autopay. It becomes a `Payment` (and a ledger entry) only when Stripe says it succeeded, once:
    `payment_id` is set by a conditional UPDATE, whichever of the page's check and the webhook comes first.

    `idempotency_key` is derived from what is being paid (the client, the invoices and amounts, the tip, the
    card) and unique here, so a double click or ten posts at once create one PaymentIntent; it is also sent to
    Stripe. `content_key` is the same without the attempt number: a new attempt after a failure gets a new key.
    """

    __tablename__ = "online_payment"
    __table_args__ = (Index("ix_online_payment_client_created", "client_id", "created_at"),
                      Index("ix_online_payment_status", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client_profile.id", ondelete="RESTRICT"))
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    content_key: Mapped[str] = mapped_column(String(80), index=True)
    stripe_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="creating")
    # What goes to the account (invoices, then credit) and the tip on top: the charge is their sum.
    amount_cents: Mapped[int] = mapped_column(Integer)
    tip_cents: Mapped[int] = mapped_column(Integer, default=0)
    tip_refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    # [[invoice id, cents], ...]: where the amount goes, each capped at what is still due when it succeeds.
    plan: Mapped[list] = mapped_column(JSON, default=list)
    method_kind: Mapped[str] = mapped_column(String(20), default="")
    method_label: Mapped[str] = mapped_column(String(80), default="")
    # A card entered for this payment only: taken off the customer at Stripe once the payment is settled.
    detach_after: Mapped[bool] = mapped_column(Boolean, default=False)
    failure_message: Mapped[str] = mapped_column(Text, default="")
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id", ondelete="RESTRICT"), unique=True)
    # Staff who charged the card on file, and what the client said to authorise it.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    authorisation: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    client: Mapped[ClientProfile] = relationship()
    payment: Mapped[Payment | None] = relationship(back_populates="online")
    created_by: Mapped[StaffUser | None] = relationship()

    @property
    def charge_cents(self) -> int:
        return self.amount_cents + self.tip_cents

    @property
    def status_label(self) -> str:
        return str(ONLINE_STATES.get(self.status, self.status))

    @property
    def source_label(self) -> str:
        return str(ONLINE_SOURCES.get(self.source, self.source))

    @property
    def pending(self) -> bool:
        return self.status in ("creating", "requires_action", "processing")


class Tip(db.Model):
    """A tip paid with an online payment, for one sitter of the visits it paid (split evenly between them)."""

    __tablename__ = "tip"
    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id", ondelete="RESTRICT"), index=True)
    sitter_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="tips")
    sitter: Mapped[StaffUser | None] = relationship()


class StripeRefund(db.Model):
    """A refund at Stripe of an online payment, by its Stripe id: a refund made in Pawtal, or one made in
    Stripe's dashboard and learnt from the `charge.refunded` webhook, is recorded once."""

    __tablename__ = "stripe_refund"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id", ondelete="RESTRICT"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id", ondelete="RESTRICT"),
                                                        unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StripeDispute(db.Model):
    """A card payment the client disputed with their bank, as Stripe reported it: shown on the billing desk."""

    __tablename__ = "stripe_dispute"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id", ondelete="RESTRICT"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client_profile.id", ondelete="RESTRICT"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    payment: Mapped[Payment | None] = relationship()
    client: Mapped[ClientProfile | None] = relationship()


class IntakeSubmission(db.Model):
    """One sending of the public intake form, by the form's own key: the same form posted twice (a double click,
    a resend) makes one profile. The profile is kept when the row is not needed any more (set null)."""

    __tablename__ = "intake_submission"
    id: Mapped[int] = mapped_column(primary_key=True)
    form_key: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client_profile.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PortalView(db.Model):
    """Staff opened the portal as a client (read-only): who, whose, when. Kept when either is removed, by name."""

    __tablename__ = "portal_view"
    __table_args__ = (Index("ix_portal_view_client_at", "client_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"), index=True)
    staff_name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client_profile.id", ondelete="SET NULL"))
    client_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # What was looked at (the portal page's path), one row per page.
    path: Mapped[str] = mapped_column(String(300), default="")

    staff: Mapped[StaffUser | None] = relationship()


# What the audit log records, by kind of change: words for its "what" column (AuditEvent.field_label).
AUDIT_KINDS = {"client": _l("Profile"), "price": _l("Price"), "sitters": _l("Sitters"), "visit": _l("Visit"),
               "invoice": _l("Invoice"), "payment": _l("Payment"), "credit": _l("Credit"), "refund": _l("Refund"),
               "pet": _l("Pet"), "keys": _l("Key holder"), "login": _l("Portal login")}
AUDIT_FIELDS = {
    "created": _l("Added"), "deleted": _l("Deleted"), "erased": _l("Personal data erased"), "first_name": _l("First name"), "last_name": _l("Last name"),
    "status": _l("Status"), "mobile_phone": _l("Mobile phone"), "home_phone": _l("Home phone"),
    "work_phone": _l("Work phone"), "emails": _l("Emails"), "address_line1": _l("Address"),
    "address_line2": _l("Address line 2"), "city": _l("City"), "state": _l("State"), "zip": _l("ZIP"),
    "territory_id": _l("Territory"), "uses_keys": _l("Uses keys"), "key_notes": _l("Key notes"),
    "lockbox_code": _l("Lockbox code"), "vet_id": _l("Vet"), "emergency_name": _l("Emergency contact"),
    "emergency_phone": _l("Emergency phone"), "staff_notes": _l("Staff-only notes"), "autopay": _l("Autopay"),
    "primary_sitter_id": _l("Primary sitter"), "secondary_sitter_id": _l("Secondary sitter"),
    "blocked_sitters": _l("Blocked sitters"), "price": _l("Custom price"), "effective_on": _l("Price from"),
    "booked": _l("Booked"), "sitter": _l("Sitter"), "when": _l("Day and time"), "service": _l("Service"),
    "notes": _l("Notes"), "issued": _l("Issued"), "voided": _l("Voided"), "received": _l("Received"),
    "given": _l("Given"), "refunded": _l("Refunded"),
    "name": _l("Name"), "species": _l("Species"), "breed": _l("Breed"), "sex": _l("Sex"), "colour": _l("Colour"),
    "weight": _l("Weight"), "born": _l("Born"), "description": _l("Description"), "care_notes": _l("Care notes"),
    "feeding": _l("Feeding"), "medications": _l("Medications"), "active": _l("Active"), "holds": _l("Holds"),
    "email": _l("Email"), "password": _l("Password"), "line_added": _l("Line added"),
    "line_removed": _l("Line removed"), "due_on": _l("Due date"),
}
AUDIT_ACTORS = ("staff", "client", "system")


class AuditEvent(db.Model):
    """One change to a client's record: who (a staff member, the client's own login, or the system), when,
    what, and from which value to which, written as people read them (money, dates, names).

    Kept when the client or the staff member is removed: both are held by name as well (ON DELETE SET NULL),
    so deleting a client without history is never blocked by its log, and the log still reads."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_client_at", "client_id", "at"),
                      Index("ix_audit_event_staff_at", "staff_id", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(8), default="system")  # AUDIT_ACTORS
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    login_id: Mapped[int | None] = mapped_column(ForeignKey("client_login.id", ondelete="SET NULL"), index=True)
    # The actor's name at the time: a staff member's, the client login's, or "" for the system.
    staff_name: Mapped[str] = mapped_column(String(200), default="")
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client_profile.id", ondelete="SET NULL"))
    client_name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))  # AUDIT_KINDS
    object_id: Mapped[int | None] = mapped_column(Integer)
    # Which one, in words: the service of a price, the visit's day, the invoice's number.
    subject: Mapped[str] = mapped_column(String(200), default="")
    field: Mapped[str] = mapped_column(String(40))  # AUDIT_FIELDS
    old_value: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text, default="")

    @property
    def kind_label(self) -> str:
        return str(AUDIT_KINDS.get(self.kind, self.kind))

    @property
    def field_label(self) -> str:
        return str(AUDIT_FIELDS.get(self.field, self.field.replace("_", " ").capitalize()))

    @property
    def actor(self) -> str:
        """Who, as the History tab says it."""
        if self.actor_kind == "system":
            return _("System")
        if self.actor_kind == "client":
            return _("%(name)s (client)", name=self.staff_name)
        return self.staff_name


class AutopayAttempt(db.Model):
    """One try of autopay at charging an invoice. The unique (invoice, attempt) pair is the claim: two runs of
    `flask billing autopay` at once insert the same row, and only the one that wins charges the card."""

    __tablename__ = "autopay_attempt"
    __table_args__ = (UniqueConstraint("invoice_id", "attempt", name="uq_autopay_attempt_invoice"),
                      Index("ix_autopay_attempt_next", "status", "next_try_on"))
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="charging")  # charging, succeeded, failed, pending
    online_payment_id: Mapped[int | None] = mapped_column(ForeignKey("online_payment.id", ondelete="RESTRICT"))
    message: Mapped[str] = mapped_column(Text, default="")
    # After a failure: the business day of the next try (None when no try is left).
    next_try_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    invoice: Mapped[Invoice] = relationship()
    online_payment: Mapped[OnlinePayment | None] = relationship()


class InvoiceReminder(db.Model):
    """An overdue reminder sent for an invoice at one of the site's thresholds: one row, one email."""

    __tablename__ = "invoice_reminder"
    __table_args__ = (UniqueConstraint("invoice_id", "days"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"))
    days: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


SUBSCRIBER_STATES = {"pending": _l("Pending"), "confirmed": _l("Confirmed"), "unsubscribed": _l("Unsubscribed")}
AUDIENCES = {"all": _l("All confirmed subscribers"), "active": _l("Subscribers who are active clients"),
             "territory": _l("Subscribers whose client is in a territory"),
             "status": _l("Subscribers whose client has a status")}


def new_unsubscribe_token() -> str:
    return secrets.token_urlsafe(32)


class NewsletterSubscriber(db.Model):
    """An address that asked for the newsletter: pending until it confirms (double opt-in), then confirmed until
    it unsubscribes. `token` (random, per subscriber) is its unsubscribe link's authority; `confirm_nonce` is in
    the confirmation link and is cleared when used, so a link works once. The row stays after unsubscribing, so
    staff see who left, and when."""

    __tablename__ = "newsletter_subscriber"
    __table_args__ = (Index("ix_newsletter_subscriber_state_email", "state", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(160), default="")
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client_profile.id", ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    source: Mapped[str] = mapped_column(String(16), default="public")  # public, portal, demo
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_unsubscribe_token)
    confirm_nonce: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The campaign whose link was used to unsubscribe, when it was one.
    unsubscribed_campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("newsletter_campaign.id", ondelete="SET NULL"), index=True)

    client: Mapped[ClientProfile | None] = relationship()

    @property
    def state_label(self) -> str:
        return SUBSCRIBER_STATES.get(self.state, self.state)


class NewsletterCampaign(db.Model):
    """A newsletter written in Markdown for an audience: a draft until sent, which happens once (a conditional
    update of `state`), and then it cannot be edited."""

    __tablename__ = "newsletter_campaign"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[str] = mapped_column(String(16), default="all")
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id", ondelete="SET NULL"), index=True)
    client_status: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12), default="draft")  # draft, sent
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"), index=True)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)

    territory: Mapped[Territory | None] = relationship()
    sent_by: Mapped[StaffUser | None] = relationship(foreign_keys=[sent_by_id])

    @property
    def is_draft(self) -> bool:
        return self.state == "draft"

    @property
    def audience_label(self) -> str:
        if self.audience == "territory":
            return _("Clients in %(territory)s", territory=self.territory.name if self.territory else "—")
        if self.audience == "status":
            status = ClientStatus(self.client_status).label if self.client_status in {s.value for s in ClientStatus} \
                else "—"
            return _("Clients with the status %(status)s", status=status)
        return str(AUDIENCES.get(self.audience, self.audience))


class NewsletterDelivery(db.Model):
    """One subscriber's copy of a sent campaign: the outbox message that carries it. Unique per campaign and
    subscriber, so nobody gets a campaign twice."""

    __tablename__ = "newsletter_delivery"
    __table_args__ = (UniqueConstraint("campaign_id", "subscriber_id", name="uq_newsletter_delivery_campaign"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("newsletter_campaign.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("newsletter_subscriber.id", ondelete="SET NULL"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id", ondelete="SET NULL"), index=True)

    message: Mapped[OutboxMessage | None] = relationship()


class MessageThread(db.Model):
    """A conversation with the business. A client's (written from the portal, or started by staff), a visitor's from
    the Contact page (no profile: the name and address they gave are kept), or a visit's, between the client, the
    visit's sitter and the office (`visit_id`, one thread per visit). Threads and their messages are never deleted.
    """

    __tablename__ = "message_thread"
    __table_args__ = (Index("ix_message_thread_last", "last_message_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client_profile.id", ondelete="RESTRICT"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="RESTRICT"), unique=True)
    subject: Mapped[str] = mapped_column(String(160))
    # Who wrote from the Contact page (a thread with no profile).
    contact_name: Mapped[str] = mapped_column(String(160), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    # The Contact page form's own key (services.spam): the same form posted twice makes one thread.
    form_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Who wrote the newest message ("client:<login id>", "staff:<staff id>", "visitor"): it is unread for everyone else.
    last_author: Mapped[str] = mapped_column(String(40), default="")
    # The newest message from the business, and when the client last read the thread in the portal.
    business_wrote_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    client_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    client: Mapped[ClientProfile | None] = relationship()
    visit: Mapped[Visit | None] = relationship()
    assigned_to: Mapped[StaffUser | None] = relationship()
    messages: Mapped[list[Message]] = relationship(back_populates="thread", order_by="Message.id")

    @property
    def unread_by_client(self) -> bool:
        return self.business_wrote_at is not None and (self.client_read_at is None
                                                       or self.client_read_at < self.business_wrote_at)


class Message(db.Model):
    """One message of a thread: plain text (shown escaped, links made clickable) and at most one file, a photo
    (re-encoded) or a PDF, kept privately under a random name like every upload."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_in_thread", "thread_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("message_thread.id", ondelete="RESTRICT"))
    # "client", "staff" or "visitor"; the login or staff member who wrote it (kept by name if they are removed).
    author: Mapped[str] = mapped_column(String(10))
    login_id: Mapped[int | None] = mapped_column(ForeignKey("client_login.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attachment_stored: Mapped[str | None] = mapped_column(String(80), unique=True)
    attachment_name: Mapped[str] = mapped_column(String(200), default="")
    attachment_type: Mapped[str] = mapped_column(String(60), default="")
    attachment_size: Mapped[int] = mapped_column(Integer, default=0)
    # The served form's own key (services.messages.new_message_key): the same form sent twice makes one message.
    form_key: Mapped[str | None] = mapped_column(String(40), unique=True)

    thread: Mapped[MessageThread] = relationship(back_populates="messages")

    @property
    def from_business(self) -> bool:
        return self.author == "staff"


class MessageRead(db.Model):
    """When a staff member last read a thread: what came after (from anyone else) is unread for them."""

    __tablename__ = "message_read"
    thread_id: Mapped[int] = mapped_column(ForeignKey("message_thread.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


__all__ = [
    "AuditEvent",
    "AUDIENCES",
    "NewsletterCampaign",
    "NewsletterDelivery",
    "NewsletterSubscriber",
    "SUBSCRIBER_STATES",
    "IntakeSubmission",
    "PortalView",
    "AUTOPAY_MODES",
    "AutopayAttempt",
    "MANUAL_METHODS",
    "ONLINE_SOURCES",
    "ONLINE_STATES",
    "OnlinePayment",
    "StripeDispute",
    "StripeRefund",
    "Tip",
    "Allocation",
    "BILLING_CYCLES",
    "BILLING_MODES",
    "CREDIT_REASONS",
    "INVOICE_PREFIX",
    "ISSUED_INVOICE",
    "Invoice",
    "InvoiceLine",
    "InvoiceReminder",
    "InvoiceSequence",
    "InvoiceStatus",
    "LEDGER_KINDS",
    "LINE_KINDS",
    "LedgerEntry",
    "OPEN_INVOICE",
    "PAYMENT_METHODS",
    "PAYMENT_TERMS",
    "Payment",
    "BOOKED",
    "ChecklistItem",
    "KeyHolder",
    "LOCATION_MODES",
    "MOODS",
    "REPORT_NOTES_MAX",
    "ReportPhoto",
    "VisitEvent",
    "VisitReport",
    "visit_state",
    "BlockOut",
    "RequestStatus",
    "Visit",
    "VisitRequest",
    "VisitStatus",
    "visit_pet",
    "ClientEmail",
    "ClientLogin",
    "ClientProfile",
    "ClientForm",
    "ClientFormVersion",
    "ClientStatus",
    "CustomPrice",
    "Document",
    "FormResponse",
    "Invitation",
    "OutboxMessage",
    "PaymentMethod",
    "Pet",
    "Photo",
    "Policy",
    "PolicyAgreement",
    "Role",
    "Service",
    "SiteSettings",
    "StaffUser",
    "StripeEvent",
    "Territory",
    "TerritoryZip",
    "Vaccination",
    "Vet",
    "client_blocked_sitter",
]
