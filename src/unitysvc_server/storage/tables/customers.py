"""Customers and their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["ApiKeyRow", "CustomerRow"]


class CustomerRow(IdMixin, TimestampMixin, Base):
    """A customer account; every customer-owned row references its id."""

    __tablename__ = "customers"

    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)


class ApiKeyRow(IdMixin, TimestampMixin, Base):
    """One ``svcpass_`` key of a customer; only its SHA-256 is stored.

    ``key_hash`` is unique and indexed, so authenticating a request is one
    index lookup. ``hint`` (the first characters) lets ``keys list`` show which
    key is which without storing the key.
    """

    __tablename__ = "api_keys"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    hint: Mapped[str] = mapped_column(String(32), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
