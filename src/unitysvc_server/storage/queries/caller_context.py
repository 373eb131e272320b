"""Queries of what routing needs to know about a caller (``domain.caller_context``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, select

from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.collections import CollectionRow
from unitysvc_server.storage.tables.enrollments import EnrollmentRow
from unitysvc_server.storage.tables.secrets import SecretRow

__all__ = ["enabled_collections", "enrollments_with_status", "secret_refs"]


async def secret_refs(
    session: Session, customer_id: uuid.UUID
) -> Sequence[Row[uuid.UUID, str, bool, str, datetime | None]]:
    """``(id, name, shared, value_encrypted, last_used_at)`` of every secret of the customer."""
    result = await session.execute(
        select(
            SecretRow.id,
            SecretRow.name,
            SecretRow.shared,
            SecretRow.value_encrypted,
            SecretRow.last_used_at,
        ).where(SecretRow.customer_id == customer_id)
    )
    return result.all()


async def enrollments_with_status(
    session: Session, customer_id: uuid.UUID, status: str
) -> Sequence[EnrollmentRow]:
    """The customer's enrollments in ``status``, oldest activation first."""
    rows = await session.scalars(
        select(EnrollmentRow)
        .where(EnrollmentRow.customer_id == customer_id, EnrollmentRow.status == status)
        .order_by(EnrollmentRow.activated_at, EnrollmentRow.id)
    )
    return rows.all()


async def enabled_collections(session: Session, customer_id: uuid.UUID) -> Sequence[CollectionRow]:
    """The customer's enabled collections (members loaded), personal before shared."""
    rows = await session.scalars(
        select(CollectionRow)
        .where(CollectionRow.customer_id == customer_id, CollectionRow.enabled.is_(True))
        .order_by(CollectionRow.shared)
    )
    return rows.all()
