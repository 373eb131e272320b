"""Queries of customer aliases (``domain.aliases``).

The list is oldest first, ``(created_at, id)``, through the index on
``(customer_id, created_at, id)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select, update

from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.aliases import AliasRow

__all__ = [
    "demote_routing_siblings",
    "flush",
    "flush_unique",
    "insert",
    "listing",
    "live",
    "live_by_name_for_update",
    "live_for_update",
    "live_ids",
    "routing_sibling",
]


def _live(customer_id: uuid.UUID) -> Select[AliasRow]:
    return select(AliasRow).where(
        AliasRow.customer_id == customer_id, AliasRow.deactivated_at.is_(None)
    )


async def insert(session: Session, row: AliasRow) -> None:
    """Add a new alias and flush it (:class:`Duplicate` when it collides with a live one)."""
    session.add(row)
    with unique():
        await session.flush()


async def flush(session: Session) -> None:
    """Flush the changes made to loaded aliases."""
    await session.flush()


async def flush_unique(session: Session) -> None:
    """Flush the changes made to loaded aliases (:class:`Duplicate` on a collision)."""
    with unique():
        await session.flush()


async def routing_sibling(
    session: Session, customer_id: uuid.UUID, name: str, canonical: str
) -> AliasRow | None:
    """The live routing alias of ``(name, routing key)``, if any."""
    return await session.scalar(
        select(AliasRow).where(
            AliasRow.customer_id == customer_id,
            AliasRow.name == name,
            AliasRow.routing_key_canonical == canonical,
            AliasRow.is_routing.is_(True),
            AliasRow.deactivated_at.is_(None),
        )
    )


async def demote_routing_siblings(
    session: Session, customer_id: uuid.UUID, chosen: AliasRow, now: datetime
) -> uuid.UUID | None:
    """Turn routing off for every live sibling of ``chosen`` that routes now; one demoted id."""
    result = await session.execute(
        update(AliasRow)
        .where(
            AliasRow.customer_id == customer_id,
            AliasRow.name == chosen.name,
            AliasRow.routing_key_canonical == chosen.routing_key_canonical,
            AliasRow.is_routing.is_(True),
            AliasRow.deactivated_at.is_(None),
            AliasRow.id != chosen.id,
        )
        .values(is_routing=False, updated_at=now)
        .returning(AliasRow.id),
        execution_options={"synchronize_session": "fetch"},
    )
    return next(iter(result.scalars()), None)


async def live_for_update(
    session: Session, customer_id: uuid.UUID, alias_id: uuid.UUID
) -> AliasRow | None:
    """The customer's live alias ``alias_id``, locked for this transaction."""
    return await session.scalar(_live(customer_id).where(AliasRow.id == alias_id).with_for_update())


async def live_ids(session: Session, customer_id: uuid.UUID) -> Sequence[uuid.UUID]:
    """Ids of the customer's live aliases."""
    rows = await session.scalars(
        select(AliasRow.id).where(
            AliasRow.customer_id == customer_id, AliasRow.deactivated_at.is_(None)
        )
    )
    return rows.all()


async def live_by_name_for_update(
    session: Session, customer_id: uuid.UUID, name: str
) -> Sequence[AliasRow]:
    """The customer's live aliases called ``name``, oldest first, locked for this transaction."""
    rows = await session.scalars(
        _live(customer_id)
        .where(AliasRow.name == name)
        .order_by(AliasRow.created_at, AliasRow.id)
        .with_for_update()
    )
    return rows.all()


async def live(session: Session, customer_id: uuid.UUID) -> list[AliasRow]:
    """The customer's live aliases, oldest first."""
    rows = await session.scalars(_live(customer_id).order_by(AliasRow.created_at, AliasRow.id))
    return list(rows)


def listing(
    customer_id: uuid.UUID, *, name: str | None, include_deactivated: bool, shared: bool
) -> Listing[AliasRow]:
    """The customer's aliases, oldest first: those named ``name`` when given, live
    ones unless ``include_deactivated``, shared ones only when ``shared``."""
    where = [AliasRow.customer_id == customer_id]
    if name is not None:
        where.append(AliasRow.name == name)
    if not include_deactivated:
        where.append(AliasRow.deactivated_at.is_(None))
    if shared:
        where.append(AliasRow.owner_id.is_(None))
    return Listing(AliasRow, tuple(where), AliasRow.created_at, "time", AliasRow.id)
