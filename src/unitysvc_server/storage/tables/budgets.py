"""Budgets: a customer's spend caps per cycle, and what each has counted so far."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from unitysvc_server.storage.base import Base, IdMixin, TimestampMixin

__all__ = ["BudgetRow", "BudgetSpendRow"]


class BudgetRow(IdMixin, TimestampMixin, Base):
    """One budget: a hard cap (and optional alert threshold) on a scope's charges per cycle.

    Amounts are integers of 10^-12 currency units, like usage charges (``charge_pico``),
    so comparisons and sums are exact on every database. ``scope`` is ``all``,
    ``service`` (``service_id``), ``group`` (``group_name``) or ``key`` (``key_id``).
    """

    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("customer_id", "name", name="uq_budgets_customer_name"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    scope: Mapped[str] = mapped_column(String(16), nullable=False)
    service_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    group_name: Mapped[str | None] = mapped_column(String(255), default=None)
    key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), default=None
    )
    cap_pico: Mapped[int] = mapped_column(BigInteger, nullable=False)
    alert_pico: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str] = mapped_column(String(8), nullable=False, default="USD")


class BudgetSpendRow(Base):
    """What one budget has counted in one cycle (10^-12 currency units).

    Incremented by one atomic upsert per charged call (``domain.budget_spend``), so
    concurrent calls on every worker and node add up exactly.
    """

    __tablename__ = "budget_spend"

    budget_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("budgets.id", ondelete="CASCADE"), primary_key=True
    )
    cycle_start: Mapped[date] = mapped_column(primary_key=True)
    spent_pico: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
