"""Collections read for many objects at once, by statements built once.

selectinload does this too, but builds its statement again on every load, and computing that statement's cache key
cost more than running it (18 of 25 ms of a sitter's day; most of a client's own profile, read on every portal page).
Here each statement is a module constant whose rows are led by their owner's id, so SQLAlchemy computes its cache key
once; `fill` sets each owner's collection as loaded, as the ORM's own loaders do.
"""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, bindparam
from sqlalchemy.orm.attributes import set_committed_value

from extensions import db

# The owners' ids, as the statements below take them: `.where(Child.owner_id.in_(IDS))`.
IDS = bindparam("ids", expanding=True)


def fill(owners: Collection, key: str, statement: Select) -> None:
    """Set the `key` collection of each of `owners` from `statement`'s rows, (owner id, child), in their order.

    The statement runs even when there is no owner, so a page's number of queries does not depend on its rows."""
    found: dict[int, list] = {owner.id: [] for owner in owners}
    for owner_id, item in db.session.execute(statement, {"ids": list(found)}):
        found[owner_id].append(item)
    for owner in owners:
        set_committed_value(owner, key, found[owner.id])
