"""Declarative base and column types shared by every table.

Every table module under :mod:`unitysvc_server.storage.tables` builds on
:class:`Base`. Timestamps are stored in UTC and always come back timezone-aware,
on SQLite (which has no timezone type) as on PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, TypeDecorator, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.processors import str_to_datetime
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from unitysvc_server.clock import utcnow

# Deterministic constraint names, so Alembic migrations are identical on
# SQLite and PostgreSQL and can be compared against the metadata in tests.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """Parse SQLite's text straight into an aware datetime.

        SQLite stores the UTC time without an offset, which the dialect parses with
        ``datetime.fromisoformat``; :meth:`process_result_value` then set its zone with
        ``replace``, whose keyword parsing cost more than the parsing (a list of fifty
        rows reads 150 timestamps). Parsing the text with ``+00:00`` appended gives the
        same value at once; text that already names an offset (not written by this
        type) takes the general path.
        """
        general = super().result_processor(dialect, coltype)
        dialect_impl = self.impl_instance.dialect_impl(dialect)
        if dialect_impl.result_processor(dialect, coltype) is not str_to_datetime:
            return general
        assert general is not None
        parse = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                return parse(value + "+00:00")
            except ValueError:
                return general(value)

        return process


#: JSON column: JSONB on PostgreSQL, JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of all tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(as_uuid=True),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        str: String(),
    }


class IdMixin:
    """A random UUID primary key."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    """``created_at`` / ``updated_at`` columns maintained on insert and update."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(default=None, onupdate=utcnow)
