"""Client onboarding: the steps the business requires before a client may request visits.

The steps come from configuration (site options, required forms, card on file) and are computed
from the client's data each time, so the portal follows when the business changes its rules.
`ClientProfile.onboarding_complete` keeps the result for the staff table's filter.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from extensions import db
from filters import gettext as _
from filters import lazy_gettext as _l
from models import REQUIRED, ClientProfile, Pet, SiteSettings
from services import cards, forms, signals
from services.cards import cards_available
from services.settings import CLIENT_FIELDS, PET_FIELDS, get_settings

INFO, PETS, CARD, FORMS = "info", "pets", "card", "forms"
TITLES = {INFO: _l("My Info"), PETS: _l("My Pets"), CARD: _l("Card on File"), FORMS: _l("My Forms")}


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    todo: str  # what is left, in the client's words


@dataclass(frozen=True)
class Onboarding:
    steps: tuple[Step, ...]

    @property
    def complete(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def current(self) -> Step | None:
        return next((step for step in self.steps if not step.done), None)

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def percent(self) -> int:
        return round(100 * self.done_count / len(self.steps)) if self.steps else 100

    @property
    def step_number(self) -> int:
        """The 1-based number of the step to do now (the last one when all are done)."""
        current = self.current
        return self.steps.index(current) + 1 if current else len(self.steps)


def missing_info(client: ClientProfile, settings: SiteSettings | None = None) -> list[str]:
    """Labels of required client fields the profile has not filled."""
    rules = (settings or get_settings()).client_field_rules or {}
    missing = [] if client.first_name and client.last_name else [_("Name")]
    for key, (label, fields) in CLIENT_FIELDS.items():
        if rules.get(key) != REQUIRED:
            continue
        if key == "email":
            filled = bool(client.emails)
        elif key == "keys":
            filled = True  # a yes/no is always answered
        elif key == "address":
            filled = all(getattr(client, name) for name in ("address_line1", "city", "zip"))
        else:
            filled = all(getattr(client, name) not in (None, "") for name in fields)
        if not filled:
            missing.append(str(label))
    return missing


def pet_missing(pet: Pet, settings: SiteSettings | None = None) -> list[str]:
    """Labels of required pet fields this pet has not filled."""
    rules = (settings or get_settings()).pet_field_rules or {}
    missing = []
    for key, (label, _fields) in PET_FIELDS.items():
        if rules.get(key) != REQUIRED:
            continue
        if key == "vaccinations":
            filled = bool(pet.vaccinations)
        elif key == "photo":
            filled = pet.photo_id is not None
        elif key == "born":
            filled = pet.born_year is not None
        else:
            filled = getattr(pet, key) not in (None, "")
        if not filled:
            missing.append(str(label))
    return missing


def onboarding_for(client: ClientProfile, form_tasks: list | None = None,
                   settings: SiteSettings | None = None) -> Onboarding:
    """The client's steps, in order, with what is left of each (pass what is already loaded)."""
    settings = settings or get_settings()
    steps = []
    info_missing = missing_info(client, settings)
    steps.append(Step(INFO, TITLES[INFO], not info_missing, _fill_in(info_missing)))
    if settings.portal_pets:
        active = [p for p in client.pets if p.active]
        complete = [p for p in active if not pet_missing(p, settings)]
        if not active:
            todo = _("Add at least one pet.")
        elif not complete:
            todo = _("Finish %(pets)s.", pets=", ".join(
                _("%(pet)s's %(fields)s", pet=p.name, fields=", ".join(pet_missing(p, settings)).lower())
                for p in active))
        else:
            todo = ""
        steps.append(Step(PETS, TITLES[PETS], bool(complete), todo))
    if settings.billing_requires_card and cards_available(settings):
        has_card = cards.has_usable_method(client)
        steps.append(Step(CARD, TITLES[CARD], has_card, "" if has_card else _("Put a card on file.")))
    if settings.portal_forms:
        left = forms.required_forms_left(client, form_tasks)
        if left is not None:
            steps.append(Step(FORMS, TITLES[FORMS], not left, _fill_in(left)))
    return Onboarding(tuple(steps))


def _fill_in(names: list[str]) -> str:
    """What is left of a step: "Fill in: Address, Pet intake." (nothing when nothing is left)."""
    return _("Fill in: %(names)s.", names=", ".join(names)) if names else ""


def refresh(client: ClientProfile) -> bool:
    """Store whether the client has finished onboarding (in the current transaction)."""
    client.onboarding_complete = onboarding_for(client).complete
    return client.onboarding_complete


def refresh_clients(client_ids: list[int] | None, batch: int = 500) -> None:
    """Recompute the state of these clients (all when None), a batch at a time, in a few queries per batch."""
    settings = get_settings()
    active_forms = forms.list_forms(include_inactive=False) if settings.portal_forms else []
    asks_forms = any(form.onboarding for form in active_forms)
    # Load only what the current rules look at.
    loads = [selectinload(ClientProfile.emails)]
    if settings.portal_pets:
        pets = selectinload(ClientProfile.pets)
        loads.append(pets.selectinload(Pet.vaccinations) if (settings.pet_field_rules or {}).get("vaccinations")
                     == REQUIRED else pets)
    if settings.billing_requires_card and cards_available(settings):
        loads.append(selectinload(ClientProfile.payment_methods))
    last_id = 0
    while True:
        stmt = (select(ClientProfile).where(ClientProfile.id > last_id).order_by(ClientProfile.id).limit(batch)
                .options(*loads))
        if client_ids is not None:
            stmt = stmt.where(ClientProfile.id.in_(client_ids))
        clients = list(db.session.scalars(stmt))
        if not clients:
            break
        latest = forms.latest_responses_of([c.id for c in clients]) if asks_forms else {}
        for client in clients:
            tasks = forms.tasks_for(client, active_forms, latest.get(client.id, {})) if asks_forms else []
            complete = onboarding_for(client, tasks, settings).complete
            if client.onboarding_complete != complete:
                client.onboarding_complete = complete
        last_id = clients[-1].id
        db.session.flush()  # a flushed batch is no longer kept in memory by the session


@signals.client_changed.connect
def _client_changed(client: ClientProfile, **_) -> None:
    refresh(client)


@signals.pet_changed.connect
def _pet_changed(pet: Pet, **_) -> None:
    refresh(pet.client)


@signals.card_changed.connect
def _card_changed(client: ClientProfile, **_) -> None:
    db.session.flush()
    db.session.expire(client, ["payment_methods"])
    refresh(client)


@signals.form_answered.connect
def _form_answered(response, **_) -> None:
    db.session.flush()
    refresh(db.session.get(ClientProfile, response.client_id))


@signals.clients_imported.connect
def _clients_imported(client_ids: list[int], **_) -> None:
    refresh_clients(sorted(set(client_ids)))


@signals.requirements_changed.connect
def _requirements_changed(_sender, **_) -> None:
    refresh_clients(None)
