"""Pages of a customer's list by offset or by keyset (:mod:`unitysvc_server.domain.pages`).

A :class:`Listing` says which rows a list holds and in what order: a sort key and, when
the key is not unique within the list, the id as the tie-break. ``page_at`` pages it by
``OFFSET`` (the contract's ``skip``), ``page_after`` by the last row served: the rows
strictly beyond ``(key, id)`` through the index on ``(customer_id, key, id)``, without
reading the rows before them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, UnaryExpression, func, literal, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from unitysvc_server.storage.base import IdMixin
from unitysvc_server.storage.session import Session

__all__ = ["Listing", "count", "page_after", "page_at"]

RowT = TypeVar("RowT", bound=IdMixin)


@dataclass(frozen=True, slots=True)
class Listing(Generic[RowT]):
    """The rows of one list and their order.

    Attributes:
        entity: The table's row class.
        where: The list's conditions (the customer and the filters).
        key: The sort key's column.
        kind: ``time`` for a moment, ``text`` for a name.
        tie: The id column when ``key`` may repeat within the list; ``None`` when it is
            unique there (a name unique per customer), so the key alone orders it.
        descending: Newest (or last) first.
    """

    entity: type[RowT]
    where: tuple[ColumnElement[bool], ...]
    key: InstrumentedAttribute[Any]
    kind: Literal["time", "text"]
    tie: InstrumentedAttribute[uuid.UUID] | None
    descending: bool = False

    def key_of(self, row: RowT) -> datetime | str:
        """The sort key of one of the list's rows."""
        value: datetime | str = getattr(row, self.key.key)
        return value

    def order(self) -> list[UnaryExpression[Any]]:
        """The list's ``ORDER BY``."""
        columns = [self.key] if self.tie is None else [self.key, self.tie]
        return [column.desc() if self.descending else column.asc() for column in columns]


async def count(session: Session, listing: Listing[Any]) -> int:
    """How many rows the list holds."""
    return (
        await session.scalar(select(func.count()).select_from(listing.entity).where(*listing.where))
        or 0
    )


async def page_at(session: Session, listing: Listing[RowT], skip: int, limit: int) -> list[RowT]:
    """The list's rows ``skip`` to ``skip + limit``."""
    return list(
        await session.scalars(
            select(listing.entity)
            .where(*listing.where)
            .order_by(*listing.order())
            .offset(skip)
            .limit(limit)
        )
    )


async def page_after(
    session: Session,
    listing: Listing[RowT],
    after: datetime | str,
    after_id: uuid.UUID,
    limit: int,
) -> list[RowT]:
    """The first ``limit`` rows of the list beyond the row ``(after, after_id)``."""
    if listing.tie is None:
        here: ColumnElement[Any] = literal(after, listing.key.type)
        beyond = listing.key < here if listing.descending else listing.key > here
    else:
        mine = tuple_(listing.key, listing.tie)
        theirs = tuple_(literal(after, listing.key.type), literal(after_id, listing.tie.type))
        beyond = mine < theirs if listing.descending else mine > theirs
    return list(
        await session.scalars(
            select(listing.entity)
            .where(*listing.where, beyond)
            .order_by(*listing.order())
            .limit(limit)
        )
    )
