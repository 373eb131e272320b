"""Broadcasts (``b/<name>``): parallel fan-out to targets (CONTRACT §1.7 Broadcasts)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["BroadcastRow", "BroadcastTargetRow"]


class BroadcastRow(IdMixin, TimestampMixin, Base):
    """A customer's broadcast; its name is unique per customer."""

    __tablename__ = "broadcasts"
    __table_args__ = (UniqueConstraint("customer_id", "name"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(nullable=False, index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    mode: Mapped[str] = mapped_column(String(8), nullable=False)
    target_timeout_ms: Mapped[int] = mapped_column(nullable=False)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    targets: Mapped[list[BroadcastTargetRow]] = relationship(
        back_populates="broadcast",
        cascade="all, delete-orphan",
        order_by=(
            "(BroadcastTargetRow.sort_order, BroadcastTargetRow.created_at, BroadcastTargetRow.id)"
        ),
        lazy="selectin",
    )


class BroadcastTargetRow(IdMixin, TimestampMixin, Base):
    """One target of a broadcast."""

    __tablename__ = "broadcast_targets"

    broadcast_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    target_path: Mapped[str] = mapped_column(String(500), nullable=False)
    routing_key_override: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    sort_order: Mapped[int] = mapped_column(nullable=False, default=0)

    broadcast: Mapped[BroadcastRow] = relationship(back_populates="targets")
