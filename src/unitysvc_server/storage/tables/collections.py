"""Customer collections (groups the customer owns) and their members (CONTRACT §1.7 Groups)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["CollectionMemberRow", "CollectionRow"]


class CollectionRow(IdMixin, TimestampMixin, Base):
    """A customer's collection: personal (``shared`` false) or shared with the team.

    Names are unique per owner scope, so a personal and a shared collection may
    share one. ``is_default`` marks the customer's "Favorites" collection.
    """

    __tablename__ = "collections"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    shared: Mapped[bool] = mapped_column(nullable=False, default=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    description: Mapped[str | None] = mapped_column(String(2000), default=None)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    is_default: Mapped[bool] = mapped_column(nullable=False, default=False)

    members: Mapped[list[CollectionMemberRow]] = relationship(
        back_populates="collection",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(CollectionMemberRow.sort_order, CollectionMemberRow.created_at)",
        lazy="selectin",
    )

    __table_args__ = (UniqueConstraint("customer_id", "shared", "name"),)


class CollectionMemberRow(IdMixin, TimestampMixin, Base):
    """A catalog service in a collection (services live in the catalog, not the database)."""

    __tablename__ = "collection_members"

    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), nullable=False
    )
    service_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    routing_key: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    sort_order: Mapped[int] = mapped_column(nullable=False, default=0)

    collection: Mapped[CollectionRow] = relationship(back_populates="members")

    __table_args__ = (
        UniqueConstraint("collection_id", "service_id"),
        Index("ix_collection_members_service", "service_id"),
    )
