"""Queries of recurrent requests (:mod:`unitysvc_server.domain.recurrent_requests`).

The list is oldest first, ``(created_at, id)``, through the index on
``(customer_id, created_at, id)``.
"""

from __future__ import annotations

import uuid

from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.tables.recurrent_requests import RecurrentRequestRow

__all__ = ["listing"]


def listing(
    customer_id: uuid.UUID,
    *,
    service_id: uuid.UUID | None,
    enrollment_id: uuid.UUID | None,
    status: str | None,
) -> Listing[RecurrentRequestRow]:
    """The customer's recurrent requests, oldest first, narrowed by the filters given."""
    where = [RecurrentRequestRow.customer_id == customer_id]
    if service_id is not None:
        where.append(RecurrentRequestRow.service_id == service_id)
    if enrollment_id is not None:
        where.append(RecurrentRequestRow.enrollment_id == enrollment_id)
    if status is not None:
        where.append(RecurrentRequestRow.status == status)
    return Listing(
        RecurrentRequestRow,
        tuple(where),
        RecurrentRequestRow.created_at,
        "time",
        RecurrentRequestRow.id,
    )
