"""Alembic environment: works with the async engine and both dialects.

The server passes an open synchronous connection in
``config.attributes["connection"]`` (see :func:`unitysvc_server.storage.db.migrate`);
the ``alembic`` command line and ``scripts/regen_migration.py`` pass a URL and
this module opens an async engine itself.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy import JSON
from sqlalchemy.engine import Connection

from unitysvc_server.storage import tables  # noqa: F401  (registers every table)
from unitysvc_server.storage.base import Base, UTCDateTime
from unitysvc_server.storage.db import create_engine

target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render the platform's own column types by name (short, dialect-neutral)."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        autogen_context.imports.add("import unitysvc_server.storage.base")
        return "unitysvc_server.storage.base.UTCDateTime()"
    if isinstance(obj, JSON) and "postgresql" in getattr(obj, "_variant_mapping", {}):
        autogen_context.imports.add("import unitysvc_server.storage.base")
        return "unitysvc_server.storage.base.JSONType"
    return False


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        # SQLite cannot ALTER most things in place; batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_configure_and_run)
    finally:
        await engine.dispose()


def _run_online() -> None:
    given: Any = context.config.attributes.get("connection")
    if given is not None:
        _configure_and_run(given)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")
    asyncio.run(_run_with_url(url))


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    _run_online()
