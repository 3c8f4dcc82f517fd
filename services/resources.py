"""The business's resources: services, vets, territories and policies."""
from __future__ import annotations

import re

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from extensions import db
from filters import gettext as _
from models import ClientProfile, CustomPrice, Policy, PolicyAgreement, Service, Territory, TerritoryZip, Vet, Visit
from services.errors import DomainError


def _flush_unique(message: str, field: str) -> None:
    """Write now, so a name taken by another row is refused beside its field (not at the commit).

    The failed flush leaves the transaction to be rolled back, which the refusal does (rendering.submit).
    """
    try:
        db.session.flush()
    except IntegrityError:
        raise DomainError(message, field) from None


def save_service(service: Service | None, name: str, duration_minutes: int, base_price_cents: int,
                 active: bool) -> Service:
    if base_price_cents < 0:
        raise DomainError(_("A price cannot be negative."), "base_price")
    service = service or Service()
    service.name, service.duration_minutes = name.strip(), duration_minutes
    service.base_price_cents, service.active = base_price_cents, active
    db.session.add(service)
    _flush_unique(_("A service with this name already exists."), "name")
    return service


def save_vet(vet: Vet | None, clinic: str, phone: str, address: str) -> Vet:
    vet = vet or Vet()
    vet.clinic, vet.phone, vet.address = clinic.strip(), (phone or "").strip(), (address or "").strip()
    db.session.add(vet)
    _flush_unique(_("A vet with this clinic name already exists."), "clinic")
    return vet


def parse_zips(text: str) -> list[str]:
    """Zip codes from free text: separated by commas, spaces or new lines."""
    return sorted({z.upper() for z in re.split(r"[\s,;]+", text or "") if z})


def save_territory(territory: Territory | None, name: str, zip_text: str) -> Territory:
    """Save a territory and re-place every client whose territory follows their zip."""
    zips = parse_zips(zip_text)
    bad = [z for z in zips if not re.fullmatch(r"[A-Z0-9-]{3,12}", z)]
    if bad:
        raise DomainError(_("Not a zip code: %(zips)s.", zips=", ".join(bad)), "zip_codes")
    stmt = select(TerritoryZip.zip, Territory.name).join(Territory).where(TerritoryZip.zip.in_(zips))
    if territory is not None and territory.id is not None:
        stmt = stmt.where(TerritoryZip.territory_id != territory.id)
    claimed = db.session.execute(stmt).all()
    if claimed:
        listed = ", ".join(_("%(zip)s (%(territory)s)", zip=z, territory=t) for z, t in claimed)
        raise DomainError(_("Already in another territory: %(zips)s.", zips=listed), "zip_codes")
    territory = territory or Territory()
    current = {z.zip: z for z in territory.zips}  # loaded before the name changes: no flush of it yet
    territory.name = name.strip()
    territory.zips = [current.get(z) or TerritoryZip(zip=z) for z in zips]
    db.session.add(territory)
    _flush_unique(_("A territory with this name already exists."), "name")
    _replace_automatic_territories()
    return territory


def _replace_automatic_territories() -> None:
    """Clients without a manual override take the territory of their zip."""
    by_zip = select(TerritoryZip.territory_id).where(TerritoryZip.zip == ClientProfile.zip).scalar_subquery()
    db.session.execute(
        update(ClientProfile).where(ClientProfile.territory_manual.is_(False)).values(territory_id=by_zip)
    )


def save_policy(policy: Policy | None, title: str, body: str, required: bool) -> Policy:
    """Save a policy; changing its text makes a new version clients agree to again."""
    if policy is not None and (policy.title != title.strip() or policy.body != body.strip()):
        policy.version += 1
    policy = policy or Policy(version=1)
    policy.title, policy.body, policy.required_at_registration = title.strip(), (body or "").strip(), required
    db.session.add(policy)
    db.session.flush()
    return policy


def delete_resource(obj) -> None:
    """Delete a service, vet, territory or policy that no record needs.

    A service with visits or custom prices, or a policy clients have agreed to, is part of the history:
    it is refused (make the service inactive; stop asking for the policy) instead of failing at the commit.
    """
    if isinstance(obj, Service) and (_count(Visit.id, Visit.service_id == obj.id)
                                     or _count(CustomPrice.id, CustomPrice.service_id == obj.id)):
        raise DomainError(_("%(name)s is used by visits or custom prices on record: untick Active instead, so no "
                            "one can book it.", name=obj.name))
    if isinstance(obj, Policy) and _count(PolicyAgreement.id, PolicyAgreement.policy_id == obj.id):
        raise DomainError(_("Clients have agreed to “%(title)s”, and their agreements are kept: untick “Clients must "
                            "agree to it” instead.", title=obj.title))
    db.session.delete(obj)
    if isinstance(obj, Territory):
        db.session.flush()
        _replace_automatic_territories()


def _count(column, condition) -> int:
    return db.session.scalar(select(func.count(column)).where(condition))


def list_of(model) -> list:
    order = {Service: Service.name, Vet: Vet.clinic, Territory: Territory.name, Policy: Policy.title}[model]
    return list(db.session.scalars(select(model).order_by(order)))
