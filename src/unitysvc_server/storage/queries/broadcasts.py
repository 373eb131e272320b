"""Queries of broadcasts (:mod:`unitysvc_server.domain.broadcasts`).

The list is by name, unique per customer, so the name alone orders it, through the
unique index on ``(customer_id, name)``.
"""

from __future__ import annotations

import uuid

from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.tables.broadcasts import BroadcastRow

__all__ = ["listing"]


def listing(customer_id: uuid.UUID, *, shared: bool) -> Listing[BroadcastRow]:
    """The customer's broadcasts by name: only the shared ones when ``shared``."""
    where = [BroadcastRow.customer_id == customer_id]
    if shared:
        where.append(BroadcastRow.owner_id.is_(None))
    return Listing(BroadcastRow, tuple(where), BroadcastRow.name, "text", None)
