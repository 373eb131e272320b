"""Queries of enrollments (:mod:`unitysvc_server.domain.enrollments`).

The list is newest first, ``(created_at, id)`` descending, through the index on
``(customer_id, created_at, id)``.
"""

from __future__ import annotations

import uuid

from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.tables.enrollments import EnrollmentRow

__all__ = ["listing"]


def listing(customer_id: uuid.UUID, *, shared: bool) -> Listing[EnrollmentRow]:
    """The customer's enrollments, newest first: shared ones too when ``shared``."""
    where = [EnrollmentRow.customer_id == customer_id]
    if not shared:
        where.append(EnrollmentRow.shared.is_(False))
    return Listing(
        EnrollmentRow,
        tuple(where),
        EnrollmentRow.created_at,
        "time",
        EnrollmentRow.id,
        descending=True,
    )
