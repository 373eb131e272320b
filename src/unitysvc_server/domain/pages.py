"""Keyset (cursor) pages for lists that grow without bound.

A list ordered by ``(sort key, id)`` (either direction) is paged by remembering the last row
served: the next page is the rows strictly after it, found through the index on
``(owner, sort key, id)`` without reading the rows before it, so the last page costs
what the first does. ``OFFSET`` instead reads and discards every earlier row.

A :class:`Cursor` is opaque to clients (URL-safe base64 of a small JSON object). It
carries, besides the last row's key, what must stay fixed while a client walks the
pages: the total counted on the first page (counted once, not per page), the position
of the next page (the response's ``skip``), and the moment the walk began (a default
time window does not slide under it). A cursor is not signed: it only ever selects
rows of the caller's own, and a forged one fails with a 422 naming the parameter.

The sort key is a moment (request logs, enrollments, aliases, recurrent requests:
by creation) or a text (broadcasts and chains: by name); a cursor records which, and
a list refuses one of the other kind like any forged cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar, overload

from pydantic import BaseModel

from unitysvc_server.clock import utcnow
from unitysvc_server.domain.errors import Unprocessable
from unitysvc_server.storage.base import IdMixin
from unitysvc_server.storage.queries import keyset
from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.session import Session

__all__ = ["Cursor", "Listing", "Page", "page_of"]

RowT = TypeVar("RowT", bound=IdMixin)
WireT = TypeVar("WireT", bound=BaseModel)

#: A sort key: a moment or a text.
Key = TypeVar("Key", datetime, str)


@dataclass(frozen=True, slots=True)
class Cursor(Generic[Key]):
    """Where the next page of a keyset-paged list starts.

    Attributes:
        after: The sort key of the last row served (a moment or a text).
        after_id: The id of the last row served (the tie-break).
        position: How many rows came before the next page.
        total: The list's total, as counted on the first page.
        began: When the first page was served.
    """

    after: Key
    after_id: uuid.UUID
    position: int
    total: int
    began: datetime

    def encode(self) -> str:
        """The opaque text form."""
        # "a" holds a moment, "n" a text: decode knows which kind it was given.
        key = (
            {"a": self.after.isoformat()} if isinstance(self.after, datetime) else {"n": self.after}
        )
        data = {
            **key,
            "i": self.after_id.hex,
            "p": self.position,
            "t": self.total,
            "b": self.began.isoformat(),
        }
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @overload
    @classmethod
    def decode(
        cls, text: str, field: str = "cursor", *, key: Literal["time"] = "time"
    ) -> Cursor[datetime]: ...

    @overload
    @classmethod
    def decode(cls, text: str, field: str = "cursor", *, key: Literal["text"]) -> Cursor[str]: ...

    @classmethod
    def decode(
        cls, text: str, field: str = "cursor", *, key: Literal["time", "text"] = "time"
    ) -> Cursor[datetime] | Cursor[str]:
        """Parse :meth:`encode`'s form.

        Args:
            text: The cursor as the client sent it.
            field: The query parameter it came in (named by the error).
            key: The list's sort key: ``time`` (a moment) or ``text`` (a name).

        Raises:
            Unprocessable: Not a cursor this server made for a list of this kind of key
                (names ``field``).
        """
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(raw)
            after_id = uuid.UUID(hex=data["i"])
            position, total = int(data["p"]), int(data["t"])
            began = datetime.fromisoformat(data["b"])
            cursor: Cursor[datetime] | Cursor[str]
            if key == "time":
                moment = datetime.fromisoformat(data["a"])
                aware = moment.tzinfo is not None
                cursor = Cursor(moment, after_id, position, total, began)
            else:
                name = data["n"]
                if not isinstance(name, str):
                    raise TypeError("a name cursor holds text")
                aware = True
                cursor = Cursor(name, after_id, position, total, began)
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise Unprocessable(
                ("query", field),
                "not a cursor of this list; pass the next_cursor of the previous page "
                "unchanged, or omit it for the first page",
                "value_error",
            ) from exc
        if not aware or cursor.began.tzinfo is None or cursor.position < 0:
            raise Unprocessable(("query", field), "not a cursor of this list", "value_error")
        return cursor


@dataclass(frozen=True, slots=True)
class Page(Generic[RowT]):
    """One page of a list and how to continue it.

    Attributes:
        rows: The page's rows, in the list's order.
        total: The list's total (counted on the walk's first page).
        position: How many rows of the list came before this page.
        next_cursor: The cursor of the next page; ``None`` after the last.
    """

    rows: list[RowT]
    total: int
    position: int
    next_cursor: str | None

    def wire(self, model: type[WireT], public: Callable[[RowT], object]) -> WireT:
        """The page as a list response shaped ``{data, count, next_cursor}``.

        Args:
            model: The response model (``ServiceAliasesPublic``, ``ChainsPublic``, ...).
            public: The wire form of one row.
        """
        return model(
            data=[public(row) for row in self.rows],
            count=self.total,
            next_cursor=self.next_cursor,
        )


async def page_of(
    session: Session,
    listing: Listing[RowT],
    *,
    skip: int,
    limit: int,
    cursor: str | None,
    now: datetime | None = None,
) -> Page[RowT]:
    """A page of ``listing`` by ``skip``/``limit`` (the contract) or by ``cursor``.

    ``now`` (default: the clock) is when a walk's first page is served; a listing with a
    ``recent`` window keeps the window ending then for the whole walk.

    The first page (no cursor) counts the list; a cursor carries that total on, and the
    page after it is read through the index from the last row served. A cursor page
    reads one row more than it serves to know whether another page follows, so rows
    added beyond the cursor during a walk are served, and none of the rows there at
    its start is skipped or served twice.

    Raises:
        Unprocessable: ``cursor`` is not one of this list's, or comes with ``skip``.
    """
    if cursor is None:
        began = now or utcnow()
        total = await keyset.count(session, listing, began)
        rows = await keyset.page_at(session, listing, skip, limit, total, began)
        more = bool(rows) and skip + len(rows) < total
        return _page(listing, rows, skip, total, more, began)
    if skip:
        raise Unprocessable(
            ("query", "skip"), "a cursor page continues where the cursor says; omit skip"
        )
    at: Cursor[datetime] | Cursor[str] = (
        Cursor.decode(cursor) if listing.kind == "time" else Cursor.decode(cursor, key="text")
    )
    rows = await keyset.page_after(session, listing, at.after, at.after_id, limit + 1, at.began)
    return _page(listing, rows[:limit], at.position, at.total, len(rows) > limit, at.began)


def _page(
    listing: Listing[RowT],
    rows: list[RowT],
    position: int,
    total: int,
    more: bool,
    began: datetime,
) -> Page[RowT]:
    following = None
    if more:
        last = rows[-1]
        after = listing.key_of(last)
        served = position + len(rows)
        following = (
            Cursor(after, last.id, served, total, began)
            if isinstance(after, datetime)
            else Cursor(after, last.id, served, total, began)
        ).encode()
    return Page(rows=rows, total=total, position=position, next_cursor=following)
