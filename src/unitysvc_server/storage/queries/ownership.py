"""Queries behind customer isolation: a row by id, only if the customer owns it."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import select

from unitysvc_server.storage.session import Session

__all__ = ["owned_row"]

RowT = TypeVar("RowT")


async def owned_row(
    session: Session, table: type[RowT], row_id: uuid.UUID, customer_id: uuid.UUID
) -> RowT | None:
    """The row ``row_id`` of ``table`` (an ORM class) if ``customer_id`` owns it, else None."""
    model: Any = table
    return (
        await session.execute(
            select(model).where(model.id == row_id, model.customer_id == customer_id)
        )
    ).scalar_one_or_none()
