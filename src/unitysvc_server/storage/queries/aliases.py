"""Queries of aliases (:mod:`unitysvc_server.domain.aliases`).

The list is oldest first, ``(created_at, id)``, through the index on
``(customer_id, created_at, id)``.
"""

from __future__ import annotations

import uuid

from unitysvc_server.storage.queries.keyset import Listing
from unitysvc_server.storage.tables.aliases import AliasRow

__all__ = ["listing"]


def listing(
    customer_id: uuid.UUID, *, name: str | None, include_deactivated: bool, shared: bool
) -> Listing[AliasRow]:
    """The customer's aliases, oldest first: those named ``name`` when given, live
    ones unless ``include_deactivated``, shared ones only when ``shared``."""
    where = [AliasRow.customer_id == customer_id]
    if name is not None:
        where.append(AliasRow.name == name)
    if not include_deactivated:
        where.append(AliasRow.deactivated_at.is_(None))
    if shared:
        where.append(AliasRow.owner_id.is_(None))
    return Listing(AliasRow, tuple(where), AliasRow.created_at, "time", AliasRow.id)
