"""Keyset (cursor) pages for lists that grow without bound.

A list ordered by ``(sort key, id)`` descending is paged by remembering the last row
served: the next page is the rows strictly after it, found through the index on
``(owner, sort key, id)`` without reading the rows before it, so the last page costs
what the first does. ``OFFSET`` instead reads and discards every earlier row.

A :class:`Cursor` is opaque to clients (URL-safe base64 of a small JSON object). It
carries, besides the last row's key, what must stay fixed while a client walks the
pages: the total counted on the first page (counted once, not per page), the position
of the next page (the response's ``skip``), and the moment the walk began (a default
time window does not slide under it). A cursor is not signed: it only ever selects
rows of the caller's own, and a forged one fails with a 422 naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from unitysvc_server.domain.errors import Unprocessable

__all__ = ["Cursor"]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page of a keyset-paged list starts.

    Attributes:
        after: The sort key of the last row served.
        after_id: The id of the last row served (the tie-break).
        position: How many rows came before the next page.
        total: The list's total, as counted on the first page.
        began: When the first page was served.
    """

    after: datetime
    after_id: uuid.UUID
    position: int
    total: int
    began: datetime

    def encode(self) -> str:
        """The opaque text form."""
        data = {
            "a": self.after.isoformat(),
            "i": self.after_id.hex,
            "p": self.position,
            "t": self.total,
            "b": self.began.isoformat(),
        }
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, field: str = "cursor") -> Cursor:
        """Parse :meth:`encode`'s form.

        Raises:
            Unprocessable: Not a cursor this server made (names ``field``).
        """
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(raw)
            cursor = cls(
                after=datetime.fromisoformat(data["a"]),
                after_id=uuid.UUID(hex=data["i"]),
                position=int(data["p"]),
                total=int(data["t"]),
                began=datetime.fromisoformat(data["b"]),
            )
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise Unprocessable(
                ("query", field),
                "not a cursor of this list; pass the next_cursor of the previous page "
                "unchanged, or omit it for the first page",
                "value_error",
            ) from exc
        if cursor.after.tzinfo is None or cursor.began.tzinfo is None or cursor.position < 0:
            raise Unprocessable(("query", field), "not a cursor of this list", "value_error")
        return cursor
