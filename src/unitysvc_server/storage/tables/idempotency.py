"""Stored outcomes of POST requests carrying an ``Idempotency-Key``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["IdempotencyRow"]


class IdempotencyRow(IdMixin, TimestampMixin, Base):
    """One executed (customer, key) pair and the response it produced.

    The row is inserted in the same transaction as the request's own writes, so
    "the work happened" and "the key is taken" commit together. The response
    (``status_code`` ...) is filled in right after; a row without it means the
    work committed but the process died before the response was recorded.
    """

    __tablename__ = "idempotency_keys"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    path: Mapped[str] = mapped_column(String(2000), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response_headers: Mapped[list[Any] | None] = mapped_column(default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)

    __table_args__ = (UniqueConstraint("customer_id", "key"),)
