"""The unit-of-work handles the layers above storage hold without knowing SQLAlchemy.

The API opens one :data:`Session` per request and the gateway holds the
:data:`Sessions` factory; both only pass them down to ``domain``, which passes the
session to the queries in :mod:`unitysvc_server.storage.queries`. The aliases keep
SQLAlchemy's names out of every module above storage.
"""

from __future__ import annotations

from typing import TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["Session", "Sessions"]

#: One unit of work: reads, then writes committed together (``expire_on_commit=False``).
Session: TypeAlias = AsyncSession
#: The factory of :data:`Session` (``async with sessions() as session, session.begin(): ...``).
Sessions: TypeAlias = async_sessionmaker[AsyncSession]
