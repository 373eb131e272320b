"""Named preferences of a customer account (``notification``, ``ai``, ``request-log``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.storage.base import Base, TimestampMixin

__all__ = ["PreferenceRow"]


class PreferenceRow(TimestampMixin, Base):
    """One preference the customer set; an unset preference has no row.

    ``value`` holds ``{"service": ..., "gateway": ...}`` for the service preferences
    and ``{"mode": "truncated" | "complete"}`` for ``request-log`` -- the one place the
    request-logging mode is stored (``POST /request-logs/start|stop`` write it too).
    """

    __tablename__ = "preferences"

    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(nullable=False)
