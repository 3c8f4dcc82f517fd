"""Client forms: staff build them (fields in versions), clients fill them in, answers keep their version."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.numbers import get_group_symbol
from flask_babel import get_locale
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from extensions import db
from filters import ngettext
from filters import gettext as _
from models import (
    FORM_FIELD_TYPES,
    MAX_FORM_FIELDS,
    ClientForm,
    ClientFormVersion,
    ClientLogin,
    ClientProfile,
    FormResponse,
    Pet,
    StaffUser,
)
from services import documents, signals
from services.clients import visible_client_ids
from services.errors import DomainError, FieldErrors

@dataclass
class FieldSpec:
    label: str
    type: str
    required: bool = False
    choices: tuple[str, ...] = ()


def list_forms(include_inactive: bool = True) -> list[ClientForm]:
    return list(db.session.scalars(_ALL_FORMS if include_inactive else _ACTIVE_FORMS).unique())


# Built once: every portal page and profile reads the forms (onboarding's "required forms" step).
_ALL_FORMS = select(ClientForm).options(joinedload(ClientForm.versions)).order_by(ClientForm.title, ClientForm.id)
_ACTIVE_FORMS = _ALL_FORMS.where(ClientForm.active.is_(True))


def save_form(form: ClientForm | None, title: str, description: str, per_pet: bool, onboarding: bool,
              active: bool, fields: list[FieldSpec]) -> ClientForm:
    """Create or update a form; changed fields make a new version, so earlier answers stay readable."""
    errors = {}
    if not title.strip():
        errors["title"] = _("Give the form a title.")
    cleaned = []
    for spec in fields:
        if not spec.label.strip():
            continue
        if spec.type not in FORM_FIELD_TYPES:
            errors["fields"] = _("Choose a type for “%(question)s”.", question=spec.label)
            continue
        choices = tuple(c.strip() for c in spec.choices if c.strip())
        if spec.type == "choice" and len(choices) < 2:
            errors["fields"] = _("Give “%(question)s” at least two choices, one per line.", question=spec.label)
        cleaned.append({"key": f"f{len(cleaned) + 1}", "label": spec.label.strip()[:200], "type": spec.type,
                        "required": bool(spec.required), "choices": list(choices) if spec.type == "choice" else []})
    if not cleaned and "fields" not in errors:
        errors["fields"] = _("Add at least one field.")
    if len(cleaned) > MAX_FORM_FIELDS:
        errors["fields"] = ngettext("A form can have at most %(num)d field.", "A form can have at most %(num)d fields.",
                                    MAX_FORM_FIELDS)
    if errors:
        raise FieldErrors(errors)
    if form is None:
        form = ClientForm()
        db.session.add(form)
    form.title, form.description = title.strip()[:160], description.strip()
    form.per_pet, form.onboarding, form.active = per_pet, onboarding, active
    if form.current is None or form.current.fields != cleaned:
        form.versions.append(ClientFormVersion(number=len(form.versions) + 1, fields=cleaned))
    db.session.flush()
    signals.requirements_changed.send()  # a new onboarding form, or one switched off, changes who has finished
    return form


def specs_of(version: ClientFormVersion | None) -> list[FieldSpec]:
    return [FieldSpec(f["label"], f["type"], f["required"], tuple(f.get("choices") or ())) for f in
            (version.fields if version else [])]


def latest_responses(client: ClientProfile) -> dict[tuple[int, int | None], FormResponse]:
    """The newest response of each (form, pet) for this client."""
    return latest_responses_of([client.id]).get(client.id, {})


def latest_responses_of(client_ids: list[int]) -> dict[int, dict[tuple[int, int | None], FormResponse]]:
    """For each client, the newest response of each (form, pet): one query for many clients."""
    responses = db.session.scalars(
        select(FormResponse).where(FormResponse.client_id.in_(client_ids))
        .options(joinedload(FormResponse.version), joinedload(FormResponse.form), joinedload(FormResponse.pet))
        .order_by(FormResponse.submitted_at, FormResponse.id)
    )
    by_client: dict[int, dict] = {}
    for response in responses:
        by_client.setdefault(response.client_id, {})[(response.form_id, response.pet_id)] = response
    return by_client


@dataclass
class FormTask:
    """A form a client can fill in: once for the household, or once for one pet."""

    form: ClientForm
    pet: Pet | None
    response: FormResponse | None

    @property
    def done(self) -> bool:
        return self.response is not None

    @property
    def name(self) -> str:
        return _("%(form)s (%(pet)s)", form=self.form.title, pet=self.pet.name) if self.pet else self.form.title


def tasks_for(client: ClientProfile, active_forms: list[ClientForm] | None = None,
              latest: dict | None = None) -> list[FormTask]:
    """Every active form for this client (per pet: one per active pet), with the latest answers.

    Pass `active_forms` and `latest` when they are already loaded (many clients at once).
    """
    active_forms = list_forms(include_inactive=False) if active_forms is None else active_forms
    if not active_forms:
        return []
    latest = latest_responses(client) if latest is None else latest
    pets = [p for p in client.pets if p.active]
    tasks = []
    for form in active_forms:
        if form.current is None:
            continue
        for pet in (pets if form.per_pet else [None]):
            tasks.append(FormTask(form, pet, latest.get((form.id, pet.id if pet else None))))
    return tasks


def required_forms_left(client: ClientProfile, tasks: list[FormTask] | None = None) -> list[str] | None:
    """Names of onboarding forms not yet filled in; None when the business asks for none."""
    tasks = tasks_for(client) if tasks is None else tasks
    required = [t for t in tasks if t.form.onboarding]
    if not required:
        return None
    return [t.name for t in required if not t.done]


def submit(form: ClientForm, client: ClientProfile, pet: Pet | None, login: ClientLogin | None,
           values: dict, uploads: dict) -> FormResponse:
    """Check answers against the form's current version and keep them with that version."""
    version = form.current
    if version is None or not form.active:
        raise DomainError(_("This form is not available."))
    if form.per_pet != (pet is not None):
        raise DomainError(_("Choose the pet this form is about.") if form.per_pet
                          else _("This form is not about a pet."))
    answers, errors = {}, {}
    # Files are stored last, only when every other answer is right, so a refused form leaves no file.
    for field in sorted(version.fields, key=lambda f: f["type"] == "file"):
        key = field["key"]
        if errors and field["type"] == "file":
            if field["required"] and not getattr(uploads.get(key), "filename", ""):
                errors[key] = _("Attach a file.")
            continue
        try:
            answers[key] = _answer(field, values.get(key), uploads.get(key), client, pet)
        except DomainError as error:
            errors[key] = error.message
    if errors:
        raise FieldErrors(errors)
    response = FormResponse(form=form, version=version, client_id=client.id, pet=pet, login=login, answers=answers)
    db.session.add(response)
    db.session.flush()
    signals.form_answered.send(response)
    return response


def _answer(field: dict, raw, upload, client: ClientProfile, pet: Pet | None):
    kind, required = field["type"], field["required"]
    text = raw.strip() if isinstance(raw, str) else raw
    if kind == "file":
        if upload is None or not getattr(upload, "filename", ""):
            if required:
                raise DomainError(_("Attach a file."))
            return None
        document = documents.store_document(client, upload, field["label"], pet, for_form=True)
        return {"document_id": document.id, "name": document.original_name}
    if text in (None, ""):
        if required:
            raise DomainError(_("Type your full name to sign.") if kind == "signature"
                              else _("This field is required."))
        return None
    if kind in ("short_text", "signature"):
        return text[:500]
    if kind == "long_text":
        return text[:5000]
    if kind == "yes_no":
        if text not in ("yes", "no"):
            raise DomainError(_("Choose yes or no."))
        return text
    if kind == "choice":
        if text not in field["choices"]:
            raise DomainError(_("Choose one of the options."))
        return text
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise DomainError(_("Enter a date.")) from None
    if kind == "number":
        return parse_number(text)
    raise DomainError(_("Unknown field type."))


# A number as people type one: digits, and a decimal point or comma; no exponent, inf, nan, "_" nor other digits.
NUMBER = re.compile(r"(-?)([0-9]{1,15})(?:([.,])([0-9]{1,10}))?")


def parse_number(text: str) -> str:
    """ "1.5" and "1,5" -> "1.5"; a thousands separator ("1,500" in English) is refused, as it reads two ways."""
    match = NUMBER.fullmatch(text)
    if match is None:
        raise DomainError(_("Enter a number. Write it like 12 or 1.5."))
    sign, whole, mark, fraction = match.groups()
    if mark is not None and mark == get_group_symbol(get_locale()) and len(fraction) == 3:
        raise DomainError(_("Write the number without a thousands separator: %(number)s.", number=sign + whole + fraction))
    return str(Decimal(f"{sign}{whole}.{fraction}" if mark else sign + whole))


def load_response(response_id: int, viewer: StaffUser | ClientLogin) -> FormResponse | None:
    """A client's answers, if the viewer may see that client."""
    return db.session.scalar(select(FormResponse).where(FormResponse.id == response_id,
                                                        FormResponse.client_id.in_(visible_client_ids(viewer))))


def answer_rows(response: FormResponse) -> list[tuple[dict, object]]:
    """(field, answer) pairs, read against the version the answers were given for."""
    return [(field, response.answers.get(field["key"])) for field in response.version.fields]


def responses_for_client(client: ClientProfile) -> list[FormResponse]:
    """The latest response per form and pet, for staff on the profile."""
    return sorted(latest_responses(client).values(), key=lambda r: r.submitted_at, reverse=True)
