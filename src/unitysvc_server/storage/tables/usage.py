"""Usage events: one row per upstream call the gateway made for a customer."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.storage.base import Base

__all__ = ["UsageEventRow"]


class UsageEventRow(Base):
    """What one metered gateway call used and what it cost.

    Token counts are ``NULL`` when the upstream reported none. The charge is stored as
    an integer number of 10^-12 currency units (``charge_pico``): both databases add
    integers exactly, so cycle totals are exact sums (docs/decisions.md, "Usage and
    cost").
    """

    __tablename__ = "usage_events"
    __table_args__ = (Index("ix_usage_events_customer_time", "customer_id", "event_timestamp"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    event_timestamp: Mapped[datetime] = mapped_column(nullable=False)
    service_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    channel: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    status_code: Mapped[int | None] = mapped_column(default=None)
    success: Mapped[bool] = mapped_column(nullable=False)
    input_tokens: Mapped[int | None] = mapped_column(BigInteger, default=None)
    cached_input_tokens: Mapped[int | None] = mapped_column(BigInteger, default=None)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger, default=None)
    total_tokens: Mapped[int | None] = mapped_column(BigInteger, default=None)
    bytes_in: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    duration_ms: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    charge_pico: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    currency: Mapped[str] = mapped_column(String(8), nullable=False, default="USD")
    pricing_bundle_id: Mapped[str | None] = mapped_column(String(64), default=None)
