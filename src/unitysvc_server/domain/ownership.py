"""Customer isolation: load a customer's own row or answer 404."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from unitysvc_server.domain.errors import NotFound
from unitysvc_server.storage.queries import ownership as queries
from unitysvc_server.storage.session import Session

RowT = TypeVar("RowT")


async def get_owned(
    session: Session,
    table: type[RowT],
    row_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    what: str | None = None,
) -> RowT:
    """Return the row ``row_id`` of ``table`` if it belongs to ``customer_id``.

    Another customer's row is indistinguishable from a missing one: both raise
    :class:`NotFound`, so ids never leak across customers.

    Args:
        session: The request's session.
        table: An ORM class with ``id`` and ``customer_id`` columns.
        row_id: The requested id.
        customer_id: The caller.
        what: Noun for the error message (default: the table name).
    """
    row = await queries.owned_row(session, table, row_id, customer_id)
    if row is None:
        model: Any = table
        noun = what or str(getattr(model, "__tablename__", "object")).rstrip("s")
        raise NotFound(f"{noun} {row_id} not found")
    return row
