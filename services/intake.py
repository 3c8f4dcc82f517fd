"""The public intake form (/start): a prospective client gives their details, their pets, the service they want
and when, and agrees to the policies. It makes a Prospect profile with its pets (and a pending visit request when
dates were given), tells the office, and emails the client a link to set a password for the portal.

Against spam, as the contact page will: a hidden field a person never fills (a honeypot), a minimum time between
the form being served and sent, and a rate limit on the route. Each form carries its own key, signed with the
time it was served (no session needed, so the form works embedded in the business's own website); the key is
stored with what it made, so the same form posted twice makes one profile.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from filters import business_today
from filters import gettext as _
from models import (
    MAX_ID, WINDOWS, ClientEmail, ClientLogin, ClientProfile, ClientStatus, IntakeSubmission, Pet, PolicyAgreement, Service,
)
from services import emails, logins, signals, spam, visits
from services.accounts import clean_email, normalize_email
from services.errors import DomainError, FieldErrors
from services.settings import get_settings

SALT = "intake-form"
MIN_SECONDS = 3  # a person takes longer than this to fill the form in
MAX_AGE = 24 * 3600  # a form served more than a day ago is served again
MAX_PETS = 4
MAX_DAYS = 31
HORIZON_DAYS = 366


@dataclass
class PetEntry:
    name: str = ""
    species: str = ""
    breed: str = ""
    age: str = ""
    row: int = 0  # its row on the form, where its messages go

    @property
    def years(self) -> int | None:
        """The age as whole years (ASCII digits only: "²" is a digit to Python, not an age), else None."""
        return int(self.age) if re.fullmatch(r"[0-9]{1,2}", self.age or "") else None


@dataclass
class Intake:
    first_name: str
    last_name: str
    email: str
    phone: str = ""
    address_line1: str = ""
    city: str = ""
    zip: str = ""
    pets: list[PetEntry] = field(default_factory=list)
    service_id: int | None = None
    start: date | None = None
    end: date | None = None
    notes: str = ""
    agreed_policy_ids: tuple[int, ...] = ()
    ip_address: str = ""


def new_form_key() -> str:
    """The key a served form carries: random, signed with the time it was served."""
    return spam.new_form_key(SALT)


def _read_key(signed: str) -> str:
    """The form's own key, once its signature and age are checked; a form sent too fast is a robot's."""
    return spam.read_form_key(signed, SALT, MIN_SECONDS, MAX_AGE)


def check(intake: Intake) -> tuple[list[PetEntry], Service | None, list[date]]:
    """Everything a person typed, checked at once: FieldErrors names each field refused."""
    errors: dict[str, str] = {}
    if not intake.first_name.strip():
        errors["first_name"] = _("Enter your first name.")
    if not intake.last_name.strip():
        errors["last_name"] = _("Enter your last name.")
    try:
        clean_email(normalize_email(intake.email))
    except DomainError as error:
        errors["email"] = error.message
    pets = [p for p in intake.pets[:MAX_PETS] if p.name.strip() or p.species.strip() or p.breed.strip() or p.age]
    if not pets:
        errors["pets-0-name"] = _("Tell us about at least one pet: a name and what kind of animal.")
    for pet in pets:
        if not pet.name.strip():
            errors[f"pets-{pet.row}-name"] = _("Give this pet's name.")
        if not pet.species.strip():
            errors[f"pets-{pet.row}-species"] = _("Say what kind of animal, e.g. Dog or Cat.")
        if pet.age and (pet.years is None or pet.years > 40):
            errors[f"pets-{pet.row}-age"] = _("Give the age in whole years, e.g. 3.")
    service = None
    if intake.service_id is not None:
        service = db.session.get(Service, intake.service_id) if 0 < intake.service_id <= MAX_ID else None
        if service is None or not service.active:
            errors["service_id"] = _("Choose a service from the list.")
    days: list[date] = []
    if intake.start or intake.end:
        start, end = intake.start or intake.end, intake.end or intake.start
        if start < business_today():
            errors["start"] = _("Choose a day from today on.")
        elif start > business_today() + timedelta(days=HORIZON_DAYS):
            errors["start"] = _("Choose a day within the next year; tell us about later plans in the notes.")
        elif end < start:
            errors["end"] = _("The last day comes after the first.")
        elif (end - start).days >= MAX_DAYS:
            errors["end"] = _("Ask for at most %(num)d days here; tell us more in the notes.", num=MAX_DAYS)
        else:
            days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    for policy in logins.required_policies():
        if policy.id not in intake.agreed_policy_ids:
            errors[f"policy_{policy.id}"] = _("Please read and agree to the %(policy)s.", policy=policy.title)
    if errors:
        raise FieldErrors(errors)
    return pets, service, days


def submit(intake: Intake, signed_key: str, honeypot: str) -> str:
    """Take in a sent form. Returns what happened: "created", "known" (the email is already on file: the office is
    told, nothing new is made), "again" (this form was sent before) or "ignored" (a robot's). All answer alike."""
    if honeypot.strip():
        return "ignored"
    pets, service, days = check(intake)  # a person's mistakes are said first, whatever the time
    try:
        key = _read_key(signed_key)
    except spam.TooFast:
        return "ignored"
    db.session.add(IntakeSubmission(form_key=key))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return "again"
    submission = db.session.scalar(select(IntakeSubmission).where(IntakeSubmission.form_key == key))
    email = normalize_email(intake.email)
    known = (db.session.scalar(select(ClientEmail.client_id).where(func.lower(ClientEmail.email) == email).limit(1))
             or db.session.scalar(select(ClientLogin.client_id).where(ClientLogin.email == email)))
    if known:
        submission.client_id = known
        emails.send_intake_email(db.session.get(ClientProfile, known), intake, known_client=True)
        return "known"
    profile = ClientProfile(first_name=intake.first_name.strip()[:80], last_name=intake.last_name.strip()[:80],
                            status=ClientStatus.PROSPECT, mobile_phone=intake.phone.strip()[:40],
                            address_line1=intake.address_line1.strip()[:200], city=intake.city.strip()[:100],
                            zip=intake.zip.strip()[:12], emails=[ClientEmail(email=email, is_primary=True)],
                            staff_notes=_notes(intake, service, days))
    profile.pets = [Pet(name=p.name.strip()[:80], species=p.species.strip()[:40], breed=p.breed.strip()[:80],
                        born_year=business_today().year - p.years if p.years is not None else None) for p in pets]
    profile.refresh_search_text()
    db.session.add(profile)
    db.session.flush()
    signals.client_changed.send(profile)
    submission.client_id = profile.id
    login = logins.add_login(profile, email, profile.first_name, profile.last_name)  # emails the set-password link
    for policy in logins.required_policies():
        db.session.add(PolicyAgreement(policy_id=policy.id, policy_version=policy.version, login_id=login.id,
                                       ip_address=intake.ip_address[:45]))
    if service is not None and days:
        _, start, end = WINDOWS["morning"]
        try:
            visits.request_visits(profile, login, visits.Plan([service], days, "morning", start, end,
                                                              list(profile.pets), intake.notes.strip()[:2000]),
                                    activate=False)
        except DomainError as error:  # a block-out on those days: the office sees the dates in the notes instead
            current_app.logger.info("intake: no request for client %s: %s", profile.id, error.message)
    emails.send_intake_email(profile, intake, known_client=False)
    return "created"


def _notes(intake: Intake, service: Service | None, days: list[date]) -> str:
    lines = [_("From the intake form.")]
    if service is not None:
        lines.append(_("Service wanted: %(service)s", service=service.name))
    if days:
        lines.append(_("Dates wanted: %(start)s to %(end)s", start=days[0].isoformat(), end=days[-1].isoformat()))
    if intake.notes.strip():
        lines.append(intake.notes.strip()[:2000])
    return "\n".join(lines)


def enabled() -> bool:
    return get_settings().intake_enabled
