"""Customer secrets and variables, encrypted at rest."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["SecretRow"]


class SecretRow(IdMixin, TimestampMixin, Base):
    """One named secret of a customer.

    ``value_encrypted`` is a Fernet token; the clear value is never stored.
    ``shared`` separates the team-shared row from the personal one of the same
    name (a personal row shadows the shared one on reads and at routing time).
    """

    __tablename__ = "secrets"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    shared: Mapped[bool] = mapped_column(nullable=False, default=False)
    value_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    sensitive: Mapped[bool] = mapped_column(nullable=False, default=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (UniqueConstraint("customer_id", "name", "shared"),)
