"""Stored outcomes of POST requests carrying an ``Idempotency-Key``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["IdempotencyRow"]


class IdempotencyRow(IdMixin, TimestampMixin, Base):
    """One claimed (customer, key) pair and the response it produced.

    The row is inserted and committed *before* the request runs (the claim), so a
    duplicate finds it and waits instead of running the work again. The request's own
    transaction sets ``work_committed_at`` with its writes, so both commit together;
    the response (``status_code`` ...) is filled in right after. A row without a
    response and without ``work_committed_at`` is a request in progress (or one whose
    process died before committing anything: taken over after a lease); with
    ``work_committed_at`` but no response, the work is done and the response was lost.
    """

    __tablename__ = "idempotency_keys"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    path: Mapped[str] = mapped_column(String(2000), nullable=False)
    work_committed_at: Mapped[datetime | None] = mapped_column(default=None)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response_headers: Mapped[list[Any] | None] = mapped_column(default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)

    __table_args__ = (UniqueConstraint("customer_id", "key"),)
