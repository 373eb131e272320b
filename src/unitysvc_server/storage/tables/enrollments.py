"""Customer enrollments in catalog services (CONTRACT §1.7 Enrollments)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["EnrollmentRow"]


class EnrollmentRow(IdMixin, TimestampMixin, Base):
    """One enrollment of a customer in a service.

    ``parameters_encrypted`` holds the enrollment parameters as a Fernet token
    of their JSON: parameters may carry credentials, which never rest in clear.
    ``code`` (4 Crockford base32 characters, the gateway path ``e/<code>``) is
    assigned on first activation and kept for the row's life, so a cancelled
    and re-activated enrollment keeps its endpoint.
    """

    __tablename__ = "enrollments"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    shared: Mapped[bool] = mapped_column(nullable=False, default=False)
    service_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    parameters_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    code: Mapped[str | None] = mapped_column(String(4), default=None, unique=True)
    task_id: Mapped[str] = mapped_column(String(64), nullable=False)
    activated_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_enrollments_customer_service", "customer_id", "service_id"),
        Index("ix_enrollments_status", "status"),
        # The list's order, newest first, with its id tie-break: keyset pages seek it.
        Index("ix_enrollments_customer_created", "customer_id", "created_at", "id"),
    )
