"""Request logs written by the gateway."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.clock import utcnow
from unitysvc_server.storage.base import Base, IdMixin

__all__ = ["RequestLogRow"]


class RequestLogRow(IdMixin, Base):
    """One logged gateway dispatch.

    Bodies are kept as previews of at most 8 KB; in ``complete`` mode the full
    bodies live in the object store under ``request_body_key`` /
    ``response_body_key``. Headers are stored already redacted.
    """

    __tablename__ = "request_logs"
    # The id breaks ties of the newest-first order: keyset pages seek on all three.
    __table_args__ = (
        Index("ix_request_logs_customer_time", "customer_id", "event_timestamp", "id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    event_timestamp: Mapped[datetime] = mapped_column(nullable=False)
    gateway_source: Mapped[str] = mapped_column(String(16), nullable=False)
    service_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    service_enrollment_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    recurrent_request_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    path: Mapped[str] = mapped_column(String(2000), nullable=False)
    request_headers: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    request_content_type: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    request_body_preview: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    request_body_truncated: Mapped[bool] = mapped_column(nullable=False, default=False)
    request_body_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    status_code: Mapped[int | None] = mapped_column(default=None)
    response_time_ms: Mapped[float | None] = mapped_column(default=None)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    response_content_type: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    response_body_preview: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    response_body_truncated: Mapped[bool] = mapped_column(nullable=False, default=False)
    response_body_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    error_source: Mapped[str | None] = mapped_column(String(16), default=None)
    error_type: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The call's usage event (``usage_events.id``), when it reached a priced upstream.
    usage_event_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
