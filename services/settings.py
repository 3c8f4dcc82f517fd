"""Site options: registration, card requirement, and which fields are required or hidden."""
from __future__ import annotations


from extensions import db
from filters import gettext as _
from filters import lazy_gettext as _l
from models import HIDDEN, LOCATION_MODES, OPTIONAL, PORTAL_FEATURES, REQUIRED, SiteSettings
from services import signals
from services.errors import FieldErrors

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
