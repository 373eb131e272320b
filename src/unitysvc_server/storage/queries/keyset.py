"""Pages of a customer's list by offset or by keyset (:mod:`unitysvc_server.domain.pages`).

A :class:`Listing` says which rows a list holds and in what order: a sort key and, when
the key is not unique within the list, the id as the tie-break. ``page_at`` pages it by
``OFFSET`` (the contract's ``skip``), from whichever end of the list is nearer, so the
last page costs what the first does; ``page_after`` by the last row served: the rows
strictly beyond ``(key, id)`` through the index on ``(customer_id, key, id)``, without
reading the rows before them.

Each takes ``began``, the moment the client's walk over the list began: a list with a
``recent`` window (the request log's default day) holds the rows of the window ending
then, so the window does not slide under a walk. Lists grow without bound: on SQLite
their reads run off the event loop's thread
(:func:`~unitysvc_server.storage.sqlite_driver.long_read`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, UnaryExpression, func, literal, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from unitysvc_server.storage.base import IdMixin
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.sqlite_driver import long_read

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
        recent: When set, only the rows whose ``key`` (a moment) is at most this long
            before the walk began.
    """

    entity: type[RowT]
    where: tuple[ColumnElement[bool], ...]
    key: InstrumentedAttribute[Any]
    kind: Literal["time", "text"]
    tie: InstrumentedAttribute[uuid.UUID] | None
    descending: bool = False
    recent: timedelta | None = None

    def conditions(self, began: datetime) -> tuple[ColumnElement[bool], ...]:
        """The list's ``WHERE``, for a walk that began at ``began``."""
        if self.recent is None:
            return self.where
        return (*self.where, self.key >= began - self.recent)

    def key_of(self, row: RowT) -> datetime | str:
        """The sort key of one of the list's rows."""
        value: datetime | str = getattr(row, self.key.key)
        return value

    def order(self, *, reverse: bool = False) -> list[UnaryExpression[Any]]:
        """The list's ``ORDER BY`` (``reverse``: from its other end)."""
        columns = [self.key] if self.tie is None else [self.key, self.tie]
        descending = self.descending != reverse
        return [column.desc() if descending else column.asc() for column in columns]


async def count(session: Session, listing: Listing[Any], began: datetime) -> int:
    """How many rows the list holds."""
    return (
        await session.scalar(
            select(func.count()).select_from(listing.entity).where(*listing.conditions(began))
        )
        or 0
    )


async def page_at(
    session: Session, listing: Listing[RowT], skip: int, limit: int, total: int, began: datetime
) -> list[RowT]:
    """The list's rows ``skip`` to ``skip + limit``, of the ``total`` it holds."""
    if skip >= total:
        return []
    conditions = listing.conditions(began)
    beyond = total - skip - limit  # rows after the page
    if beyond < skip:
        # OFFSET still walks the index entries it skips: walk the fewer ones.
        ids = (
            select(listing.entity.id)
            .where(*conditions)
            .order_by(*listing.order(reverse=True))
            .offset(max(beyond, 0))
            .limit(min(limit, total - skip))
        )
    else:
        ids = (
            select(listing.entity.id)
            .where(*conditions)
            .order_by(*listing.order())
            .offset(skip)
            .limit(limit)
        )
    # The page's ids by the index alone (OFFSET discards index entries, not rows), then
    # its rows.
    with long_read():
        return list(
            await session.scalars(
                select(listing.entity)
                .where(listing.entity.id.in_(ids.scalar_subquery()))
                .order_by(*listing.order())
            )
        )


async def page_after(
    session: Session,
    listing: Listing[RowT],
    after: datetime | str,
    after_id: uuid.UUID,
    limit: int,
    began: datetime,
) -> list[RowT]:
    """The first ``limit`` rows of the list beyond the row ``(after, after_id)``."""
    if listing.tie is None:
        here: ColumnElement[Any] = literal(after, listing.key.type)
        beyond = listing.key < here if listing.descending else listing.key > here
    else:
        mine = tuple_(listing.key, listing.tie)
        theirs = tuple_(literal(after, listing.key.type), literal(after_id, listing.tie.type))
        beyond = mine < theirs if listing.descending else mine > theirs
    with long_read():
        return list(
            await session.scalars(
                select(listing.entity)
                .where(*listing.conditions(began), beyond)
                .order_by(*listing.order())
                .limit(limit)
            )
        )
