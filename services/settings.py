"""Site options: registration, card requirement, which fields are required or hidden, the business's own
details (name, address, logo...) and how it bills."""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from flask import current_app
from sqlalchemy import bindparam, event, select

from extensions import db
from filters import gettext as _
from filters import lazy_gettext as _l
from models import (
    AUTOPAY_MODES, BILLING_CYCLES, BILLING_MODES, HIDDEN, LOCATION_MODES, OPTIONAL, PAYMENT_TERMS, PORTAL_FEATURES,
    REQUIRED, SiteSettings,
)
from services import signals, texts
from services.errors import DomainError, FieldErrors
from services.uploads import drop_file_after_commit, intake_image, keep_file, png_bytes, read_upload, stored_path

RULE_CHOICES = (REQUIRED, OPTIONAL, HIDDEN)
# Options of the visit as it happens (check-in, reports, the board), saved as they are given.
VISIT_OPTIONS = ("location_mode", "report_before_checkout", "short_visit_percent", "late_grace_minutes",
                 "travel_gap_minutes", "key_notices")

# Configurable client fields: rule key -> (label, the form fields it covers).
CLIENT_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "email": (_l("Email"), ("emails",)),
    "mobile_phone": (_l("Mobile phone"), ("mobile_phone",)),
    "home_phone": (_l("Home phone"), ("home_phone",)),
    "work_phone": (_l("Work phone"), ("work_phone",)),
    "address": (_l("Address"), ("address_line1", "city", "state", "zip")),
    "vet": (_l("Veterinarian"), ("vet_id",)),
    "emergency_contact": (_l("Emergency contact"), ("emergency_name", "emergency_phone")),
    "keys": (_l("Keys"), ("uses_keys", "key_notes")),
}
PET_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "breed": (_l("Breed"), ("breed",)),
    "sex": (_l("Sex"), ("sex",)),
    "colour": (_l("Colour"), ("colour",)),
    "weight": (_l("Weight"), ("weight",)),
    "born": (_l("Born"), ("born_year",)),
    "description": (_l("Description"), ("description",)),
    "care_notes": (_l("Care notes"), ("care_notes",)),
    "feeding": (_l("Feeding"), ("feeding",)),
    "medications": (_l("Medications"), ("medications",)),
    "vaccinations": (_l("Vaccinations"), ("vaccinations",)),
    "photo": (_l("Photo"), ("photo",)),
}
# Fields that are a yes/no: "required" cannot apply to them, only shown or hidden.
NOT_REQUIRABLE = {"uses_keys"}


def get_settings() -> SiteSettings:
    """The single settings row, created with defaults on first use."""
    kept = db.session.info.get("site_settings")
    if kept is not None and kept in db.session:  # asked for again in the same session (a day of cards asks 36 times)
        return kept
    settings = db.session.get(SiteSettings, 1)
    if settings is None:
        settings = SiteSettings(id=1, clients_can_register=True, billing_requires_card=False,
                                client_field_rules={}, pet_field_rules={}, accept_bank_accounts=False,
                                **{name: True for name in PORTAL_FEATURES})
        db.session.add(settings)
        db.session.flush()
    # The session's identity map holds rows weakly: without a strong reference each call, on a page that
    # asks for the settings once per visit card, would read the row again.
    db.session.info["site_settings"] = settings
    return settings


def load_account(model: type, account_id: int):
    """The signed-in account's row (a StaffUser or ClientLogin), or None, read in one query with the settings row,
    which every page reads too: get_settings() then has it, a round trip fewer per request on PostgreSQL."""
    found = db.session.execute(_account_with_settings(model), {"id": account_id}).first()
    if found is None:
        return None
    account, settings = found
    if settings is not None:  # a new install's first request makes it in get_settings()
        db.session.info["site_settings"] = settings
    return account


@lru_cache(maxsize=2)
def _account_with_settings(model: type):
    return (select(model, SiteSettings).outerjoin(SiteSettings, SiteSettings.id == 1)
            .where(model.id == bindparam("id")))


def rules_for(kind: str) -> dict[str, str]:
    """Every configurable field of `kind` ("client" or "pet") with its rule."""
    settings = get_settings()
    fields, stored = (
        (CLIENT_FIELDS, settings.client_field_rules) if kind == "client" else (PET_FIELDS, settings.pet_field_rules)
    )
    return {key: (stored or {}).get(key, OPTIONAL) for key in fields}


def form_field_rules(kind: str) -> dict[str, str]:
    """The rules spread over the form fields they cover: {"city": "required", ...}."""
    fields = CLIENT_FIELDS if kind == "client" else PET_FIELDS
    spread = {}
    for key, rule in rules_for(kind).items():
        for name in fields[key][1]:
            spread[name] = OPTIONAL if rule == REQUIRED and name in NOT_REQUIRABLE else rule
    return spread


def apply_field_rules(kind: str, values: dict) -> dict:
    """Drop hidden fields from `values` and refuse missing required ones (the server's word, not the HTML's)."""
    rules = form_field_rules(kind)
    kept = {name: value for name, value in values.items() if rules.get(name) != HIDDEN}
    errors = {
        name: _("This field is required.")
        for name, rule in rules.items()
        if rule == REQUIRED and name in values and _is_blank(values[name])
    }
    missing = {name: _("This field is required.") for name, rule in rules.items()
               if rule == REQUIRED and name not in values}
    errors.update(missing)
    if errors:
        raise FieldErrors(errors)
    return kept


def _is_blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return not any(not _is_blank(v) for v in value)
    return False


def update_settings(clients_can_register: bool, billing_requires_card: bool,
                    client_rules: dict[str, str], pet_rules: dict[str, str],
                    features: dict[str, bool] | None = None, accept_bank_accounts: bool | None = None,
                    cancellation_hours: int | None = None, visit_options: dict | None = None) -> SiteSettings:
    """Save the site options; every client's onboarding state follows what is now required."""
    settings = get_settings()
    settings.clients_can_register = clients_can_register
    settings.billing_requires_card = billing_requires_card
    settings.client_field_rules = {k: v for k, v in client_rules.items() if k in CLIENT_FIELDS and v in RULE_CHOICES}
    settings.pet_field_rules = {k: v for k, v in pet_rules.items() if k in PET_FIELDS and v in RULE_CHOICES}
    for name, on in (features or {}).items():
        if name in PORTAL_FEATURES:
            setattr(settings, name, bool(on))
    if accept_bank_accounts is not None:
        settings.accept_bank_accounts = accept_bank_accounts
    if cancellation_hours is not None:
        settings.cancellation_hours = cancellation_hours
    for name, value in (visit_options or {}).items():
        if name == "location_mode" and value not in LOCATION_MODES:
            raise FieldErrors({name: _("Choose whether the location is asked.")})
        if name in VISIT_OPTIONS:
            setattr(settings, name, value)
    db.session.flush()
    signals.requirements_changed.send()
    return settings


# The business's own details: the ones the owner edits (SiteSettings.business_<name>) and the longest each may be.
BUSINESS_FIELDS = {"name": 160, "address": 500, "phone": 40, "email": 254, "tax_number": 60, "website": 200}
# Details with an environment variable (PAWTAL_BUSINESS_*): it stands in until the owner saves the details.
BUSINESS_DEFAULTS = {"name": "BUSINESS_NAME", "phone": "BUSINESS_PHONE", "email": "BUSINESS_EMAIL"}
# Every page names the business, every email signs with its phone and email, and the office's notices go to that
# email: these three cannot be blank.
BUSINESS_REQUIRED = {
    "name": _l("Enter the business's name."),
    "phone": _l("Enter the business's phone number: every email tells clients to call it."),
    "email": _l("Enter the business's email: clients write to it and the office's notices go to it."),
}
LOGO_FOLDER = "logos"
LOGO_MAX_SIDE = 1000
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_WEBSITE = re.compile(r"(?:https?://)?[^\s/:@?#]+\.[^\s/:@?#]+(?::[0-9]{1,5})?(?:[/?#]\S*)?", re.IGNORECASE)


@dataclass(frozen=True)
class Business:
    """The business as pages, emails and invoices name it: the stored details, or the environment's first-run
    defaults for those never saved."""

    name: str
    address: str
    phone: str
    email: str
    tax_number: str
    website: str
    logo: str | None  # the stored logo's file name (random), or None

    @property
    def address_lines(self) -> list[str]:
        return [line for line in self.address.splitlines() if line.strip()]

    @property
    def website_url(self) -> str:
        """The website as a link: "example.com" becomes https://example.com."""
        if not self.website or re.match(r"https?://", self.website, re.IGNORECASE):
            return self.website
        return "https://" + self.website

    @property
    def logo_path(self) -> str | None:
        """The logo's file on disk (for a PDF renderer), or None."""
        return stored_path(LOGO_FOLDER, self.logo) if self.logo else None

    @property
    def logo_url(self) -> str | None:
        """The logo's absolute address (from BASE_URL), fit for emails and invoices, or None."""
        if not self.logo:
            return None
        path = current_app.url_map.bind("localhost").build("settings.logo", {"logo_name": self.logo})
        return current_app.config["BASE_URL"] + path

    @property
    def logo_file_url(self) -> str | None:
        """The logo as a file:// URL, for a renderer that reads files rather than fetching from the site."""
        return Path(self.logo_path).as_uri() if self.logo else None


def business() -> Business:
    """The business's details, read once per transaction (every page and email asks for them)."""
    session = db.session()
    found = session.info.get("business")
    if found is None:
        # Not get_settings(): a page that only reads must not create the settings row.
        settings = session.info.get("site_settings") or db.session.get(SiteSettings, 1)
        if settings is not None:
            session.info["site_settings"] = settings
        found = session.info["business"] = _business_of(settings)
        if not session.info.get("business_watched"):
            # What is read is kept until the transaction ends: the next one may see what another request saved.
            session.info["business_watched"] = True
            event.listen(session, "after_commit", _forget_business)
            event.listen(session, "after_soft_rollback", lambda s, _previous: _forget_business(s))
    return found


def default_business() -> Business:
    """The environment's first-run details (PAWTAL_BUSINESS_*), as if nothing were saved."""
    return _business_of(None)


def _forget_business(session) -> None:
    session.info.pop("business", None)


def _business_of(settings: SiteSettings | None) -> Business:
    config = current_app.config
    values = {}
    for name in BUSINESS_FIELDS:
        stored = getattr(settings, f"business_{name}") if settings is not None else None
        if stored is None:  # never saved
            stored = config[BUSINESS_DEFAULTS[name]] if name in BUSINESS_DEFAULTS else ""
        values[name] = stored
    return Business(logo=settings.business_logo if settings is not None else None, **values)


def _tidy(name: str, value: str | None) -> str:
    """A detail as kept: an address's lines without trailing spaces or blank lines around them, others stripped."""
    value = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    if name == "address":
        return "\n".join(line.rstrip() for line in value.strip().split("\n"))
    return " ".join(value.split())


def check_business(details: dict) -> dict:
    """The details tidied, or FieldErrors naming each refused one."""
    tidy = {name: _tidy(name, details.get(name)) for name in BUSINESS_FIELDS}
    errors = {}
    for name, longest in BUSINESS_FIELDS.items():
        if len(tidy[name]) > longest:
            errors[name] = _("Use at most %(num)d characters.", num=longest)
    for name, message in BUSINESS_REQUIRED.items():
        if not tidy[name]:
            errors[name] = str(message)
    if tidy["email"] and "email" not in errors and not _EMAIL.fullmatch(tidy["email"]):
        errors["email"] = _("That is not an email address; write it like name@example.com.")
    if tidy["website"] and "website" not in errors and not _WEBSITE.fullmatch(tidy["website"]):
        errors["website"] = _("Write the website like example.com or https://example.com.")
    if errors:
        raise FieldErrors(errors)
    return tidy


def update_business(details: dict, logo_upload=None, remove_logo: bool = False) -> Business:
    """Save the business's details, and take in a new logo (or remove it); all or nothing."""
    errors = {}
    try:
        tidy = check_business(details)
    except FieldErrors as refused:
        errors.update(refused.errors)
    logo = None
    if logo_upload is not None and getattr(logo_upload, "filename", ""):
        try:
            logo = _logo_png(logo_upload)
        except DomainError as refused:
            errors["logo"] = refused.message
    if errors:
        raise FieldErrors(errors)
    settings = get_settings()
    for name, value in tidy.items():
        setattr(settings, f"business_{name}", value)
    old = settings.business_logo
    if logo is not None:
        settings.business_logo = secrets.token_hex(16) + ".png"
        keep_file(stored_path(LOGO_FOLDER, settings.business_logo), logo)
    elif remove_logo:
        settings.business_logo = None
    if old and old != settings.business_logo:
        drop_file_after_commit(stored_path(LOGO_FOLDER, old))
    db.session.flush()
    _forget_business(db.session())
    return business()


def _logo_png(upload) -> bytes:
    """An uploaded logo through the photos' intake (size, type and pixel limits; pixels only), as a new PNG that
    keeps its transparency."""
    data = read_upload(upload, current_app.config["LOGO_MAX_BYTES"], "logo", "file")
    image = intake_image(data, "logo", LOGO_MAX_SIDE, _("Upload the logo as a PNG, JPEG or WebP image."),
                         _("This file is not an image we can read."), mode="RGBA")
    return png_bytes(image)


def logo_file(logo_name: str) -> str | None:
    """The path of the business's current logo when `logo_name` names it, else None (an old or made-up name)."""
    current = business().logo
    if not current or logo_name != current:
        return None
    path = stored_path(LOGO_FOLDER, current)
    return path if os.path.exists(path) else None


# How the business bills: the options Site options edits, and their limits.
BILLING_OPTIONS = ("billing_mode", "billing_cycle", "billing_cycle_day", "billing_cycle_anchor", "payment_terms_days",
                   "tax_rate_bp", "tax_label", "reminder_days", "how_to_pay", "late_fee_tiers", "online_payments",
                   "tips_enabled", "tip_percents", "autopay_mode", "autopay_retry_days")
ONLINE_OPTIONS = ("online_payments", "tips_enabled", "tip_percents", "autopay_mode", "autopay_retry_days")
MAX_TIPS = 5
MAX_RETRIES = 5
MAX_REMINDERS = 6
REMINDER_MAX_DAYS = 365
MAX_FEE_TIERS = 6
FEE_TIER_MAX_HOURS = 720
TAX_LABEL_MAX = 40
HOW_TO_PAY_MAX = 2000


def check_billing(options: dict) -> dict:
    """The billing options as kept (reminders and fee tiers in order), or FieldErrors naming each refused one."""
    errors = {}
    kept = {name: options.get(name) for name in BILLING_OPTIONS}
    if kept["billing_mode"] not in BILLING_MODES:
        errors["billing_mode"] = _("Choose how visits are invoiced.")
    if kept["billing_cycle"] not in BILLING_CYCLES:
        errors["billing_cycle"] = _("Choose a billing period.")
    day = kept["billing_cycle_day"]
    if not isinstance(day, int) or not 1 <= day <= 28:
        errors["billing_cycle_day"] = _("Enter a day of the month from 1 to 28.")
    if kept["billing_cycle_anchor"] is not None and not isinstance(kept["billing_cycle_anchor"], date):
        errors["billing_cycle_anchor"] = _("Enter a date.")
    if kept["payment_terms_days"] not in PAYMENT_TERMS:
        errors["payment_terms_days"] = _("Choose the payment terms.")
    rate = kept["tax_rate_bp"]
    if not isinstance(rate, int) or not 0 <= rate <= 10000:
        errors["tax_rate_bp"] = _("Enter a rate from 0 to 100%.")
    label = " ".join((kept["tax_label"] or "").split())
    kept["tax_label"] = label
    if not label:
        errors["tax_label"] = _("Name the tax as invoices show it, e.g. Sales tax.")
    elif len(label) > TAX_LABEL_MAX:
        errors["tax_label"] = _("Use at most %(num)d characters.", num=TAX_LABEL_MAX)
    days = kept["reminder_days"] or []
    if any(not isinstance(d, int) or not 1 <= d <= REMINDER_MAX_DAYS for d in days):
        errors["reminder_days"] = _("Each reminder is 1 to %(num)d days after the due date.", num=REMINDER_MAX_DAYS)
    else:
        kept["reminder_days"] = sorted(set(days))
        if len(kept["reminder_days"]) > MAX_REMINDERS:
            errors["reminder_days"] = _("Send at most %(num)d reminders.", num=MAX_REMINDERS)
    kept["how_to_pay"] = (kept["how_to_pay"] or "").replace("\r\n", "\n").strip()
    if len(kept["how_to_pay"]) > HOW_TO_PAY_MAX:
        errors["how_to_pay"] = _("Use at most %(num)d characters.", num=HOW_TO_PAY_MAX)
    tiers = kept["late_fee_tiers"] or []
    hours = [tier.get("hours") for tier in tiers]
    if (len(tiers) > MAX_FEE_TIERS
            or any(not isinstance(h, int) or not 1 <= h <= FEE_TIER_MAX_HOURS for h in hours)
            or any(not isinstance(t.get("percent"), int) or not 1 <= t["percent"] <= 100 for t in tiers)):
        errors["late_fee_tiers"] = _("Each fee is 1 to %(hours)d hours before the visit, and 1 to 100%% of its price.",
                                     hours=FEE_TIER_MAX_HOURS)
    elif len(set(hours)) != len(hours):
        errors["late_fee_tiers"] = _("Two rows have the same number of hours: keep one of them.")
    else:
        kept["late_fee_tiers"] = [{"hours": t["hours"], "percent": t["percent"]}
                                  for t in sorted(tiers, key=lambda t: -t["hours"])]
    stored = get_settings()
    for name in ONLINE_OPTIONS:  # options not given stay as they are
        if name not in options:
            kept[name] = getattr(stored, name)
    kept["online_payments"] = bool(kept["online_payments"])
    kept["tips_enabled"] = bool(kept["tips_enabled"])
    percents = kept["tip_percents"] or []
    if any(not isinstance(p, int) or not 1 <= p <= 100 for p in percents) or len(set(percents)) > MAX_TIPS:
        errors["tip_percents"] = _("Offer up to %(num)d tips, each a whole percentage from 1 to 100.", num=MAX_TIPS)
    else:
        kept["tip_percents"] = sorted(set(percents))
    if kept["autopay_mode"] not in AUTOPAY_MODES:
        errors["autopay_mode"] = _("Choose whether autopay is offered.")
    retries = kept["autopay_retry_days"] or []
    if any(not isinstance(d, int) or not 1 <= d <= 60 for d in retries) or len(set(retries)) > MAX_RETRIES:
        errors["autopay_retry_days"] = _("Try again up to %(num)d times, each 1 to 60 days after the failure.",
                                         num=MAX_RETRIES)
    else:
        kept["autopay_retry_days"] = sorted(set(retries))
    if errors:
        raise FieldErrors(errors)
    return kept


def update_billing(options: dict) -> SiteSettings:
    """Save how the business bills: every option, or none when any is refused."""
    kept = check_billing(options)
    settings = get_settings()
    for name, value in kept.items():
        setattr(settings, name, value)
    db.session.flush()
    return settings


def update_faq(markdown: str, first_time_passwords: bool, intake_enabled: bool | None = None,
               intake_title: str | None = None, contact_enabled: bool | None = None) -> SiteSettings:
    """Save the business's client FAQ (Markdown, shown sanitised), whether clients already on file may get a
    first password by "Set / reset password", the public intake form's switch and title, and the Contact page's."""
    text = (markdown or "").replace("\r\n", "\n").strip()
    errors = {}
    if len(text) > texts.FAQ_MAX:
        errors["faq_markdown"] = _("Keep the FAQ under %(num)d characters.", num=texts.FAQ_MAX)
    title = " ".join((intake_title or "").split()) if intake_title is not None else None
    if title is not None and not 0 < len(title) <= 120:
        errors["intake_title"] = _("Give the form a title of at most 120 characters.")
    if errors:
        raise FieldErrors(errors)
    settings = get_settings()
    settings.faq_markdown = text
    settings.first_time_passwords = bool(first_time_passwords)
    if intake_enabled is not None:
        settings.intake_enabled = bool(intake_enabled)
    if title is not None:
        settings.intake_title = title
    if contact_enabled is not None:
        settings.contact_enabled = bool(contact_enabled)
    db.session.flush()
    return settings
