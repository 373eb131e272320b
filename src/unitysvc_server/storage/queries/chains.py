"""Queries of chains (:mod:`unitysvc_server.domain.chains`).

The list is by name, unique per customer, so the name alone orders it, through the
unique index on ``(customer_id, name)``.
"""

from __future__ import annotations

import uuid

from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.tables.chains import ChainRow

__all__ = ["listing"]


def listing(customer_id: uuid.UUID, *, shared: bool) -> Listing[ChainRow]:
    """The customer's chains by name: only the shared ones when ``shared``."""
    where = [ChainRow.customer_id == customer_id]
    if shared:
        where.append(ChainRow.owner_id.is_(None))
    return Listing(ChainRow, tuple(where), ChainRow.name, "text", None)
