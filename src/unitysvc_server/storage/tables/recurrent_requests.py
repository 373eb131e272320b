"""Recurrent requests: gateway calls fired on a schedule (CONTRACT §1.7, §2.6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["RecurrentRequestRow"]


class RecurrentRequestRow(IdMixin, TimestampMixin, Base):
    """One recurrent request and its run bookkeeping.

    ``request_path`` is what the customer sent (often an absolute gateway URL,
    shown back verbatim); ``gateway_path`` is its gateway-relative form
    (``g/llm/v1/chat/completions?x=1``, no leading slash), the one that is fired.
    ``next_run_at`` is set only while the request is ``active``; the scheduler
    picks rows by it.
    """

    __tablename__ = "recurrent_requests"
    __table_args__ = (
        Index("ix_recurrent_requests_due", "status", "next_run_at"),
        # The list's order, oldest first, with its id tie-break: keyset pages seek it.
        Index("ix_recurrent_requests_customer_created", "customer_id", "created_at", "id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(nullable=False, index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    service_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    request_path: Mapped[str] = mapped_column(String(2000), nullable=False)
    gateway_path: Mapped[str] = mapped_column(String(2000), nullable=False)
    http_method: Mapped[str] = mapped_column(String(10), nullable=False)
    body_template: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    request_headers: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    next_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    run_count: Mapped[int] = mapped_column(nullable=False, default=0)
    success_count: Mapped[int] = mapped_column(nullable=False, default=0)
    failure_count: Mapped[int] = mapped_column(nullable=False, default=0)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
