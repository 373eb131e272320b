"""Customer aliases: movable gateway names ``a/<name>`` (CONTRACT §1.7 Aliases)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["AliasRow"]


class AliasRow(IdMixin, TimestampMixin, Base):
    """One alias row; several rows may share a name (one per target / routing key).

    ``routing_key_canonical`` is the canonical JSON text of
    ``request_routing_key`` (``""`` when there is none). It exists so the
    database itself can guarantee the two invariants below, whatever the
    concurrency: at most one *routing* live row per (customer, name, routing
    key), and no two live rows with the same name, routing key and target.
    """

    __tablename__ = "aliases"

    customer_id: Mapped[uuid.UUID] = mapped_column(nullable=False, index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    request_routing_key: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    routing_key_canonical: Mapped[str] = mapped_column(nullable=False, default="")
    target_path: Mapped[str] = mapped_column(String(500), nullable=False)
    routing_key_override: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    is_routing: Mapped[bool] = mapped_column(nullable=False, default=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    deactivated_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index(
            "uq_aliases_one_routing",
            "customer_id",
            "name",
            "routing_key_canonical",
            unique=True,
            sqlite_where=text("is_routing AND deactivated_at IS NULL"),
            postgresql_where=text("is_routing AND deactivated_at IS NULL"),
        ),
        Index(
            "uq_aliases_live_target",
            "customer_id",
            "name",
            "routing_key_canonical",
            "target_path",
            unique=True,
            sqlite_where=text("deactivated_at IS NULL"),
            postgresql_where=text("deactivated_at IS NULL"),
        ),
        # The list's order, oldest first, with its id tie-break: keyset pages seek it.
        Index("ix_aliases_customer_created", "customer_id", "created_at", "id"),
    )
