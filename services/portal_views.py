"""Owners and managers viewing a client's portal, read-only: the log of each page they looked at (who, whose,
when, which page), and what a client's profile shows of it. Names are kept with each row, so the log outlives
the staff member and the client."""
from __future__ import annotations

from sqlalchemy import bindparam, select

from extensions import db
from models import ClientProfile, PortalView

PATH_LENGTH = PortalView.__table__.c.path.type.length
RECENT = 5


def log_view(staff_id: int, staff_name: str, client: ClientProfile, path: str) -> PortalView:
    """One portal page (or download) seen by a staff member as `client`."""
    view = PortalView(staff_id=staff_id, staff_name=staff_name[:200], client_id=client.id,
                      client_name=client.name[:200], path=path[:PATH_LENGTH])
    db.session.add(view)
    return view


def recent_views(client_id: int, limit: int = RECENT) -> list[PortalView]:
    """The latest portal pages staff viewed as this client, newest first."""
    return list(db.session.scalars(_RECENT_VIEWS, {"client_id": client_id, "limit": limit}))


# Built once: the staff profile shows these on every load.
_RECENT_VIEWS = (select(PortalView).where(PortalView.client_id == bindparam("client_id"))
                 .order_by(PortalView.at.desc(), PortalView.id.desc()).limit(bindparam("limit")))
