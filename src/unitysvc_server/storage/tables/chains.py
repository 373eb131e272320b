"""Chains (``c/<name>``): ordered steps tried in turn (CONTRACT §1.7 Chains)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["ChainRow", "ChainStepRow"]


class ChainRow(IdMixin, TimestampMixin, Base):
    """A customer's chain; its name is unique per customer."""

    __tablename__ = "chains"
    __table_args__ = (UniqueConstraint("customer_id", "name"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(nullable=False, index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    default_timeout_ms: Mapped[int] = mapped_column(nullable=False)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    steps: Mapped[list[ChainStepRow]] = relationship(
        back_populates="chain",
        cascade="all, delete-orphan",
        order_by="(ChainStepRow.sort_order, ChainStepRow.created_at, ChainStepRow.id)",
        lazy="selectin",
    )


class ChainStepRow(IdMixin, TimestampMixin, Base):
    """One step of a chain, executed in ``sort_order``."""

    __tablename__ = "chain_steps"

    chain_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chains.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    target_path: Mapped[str] = mapped_column(String(500), nullable=False)
    on_success: Mapped[str] = mapped_column(String(16), nullable=False)
    on_failure: Mapped[str] = mapped_column(String(16), nullable=False)
    timeout_ms: Mapped[int | None] = mapped_column(default=None)
    sort_order: Mapped[int] = mapped_column(nullable=False)

    chain: Mapped[ChainRow] = relationship(back_populates="steps")
