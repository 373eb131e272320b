"""Short-lived, invalidated caches of per-customer facts the gateway reads on every call.

Authenticating a key and reading the customer's logging preference would otherwise cost
a database round trip per dispatch. Entries live a few seconds (bounding staleness when
several server processes share a database). Loads are single-flight, and an expired entry
is served once more while one background load refreshes it, so a busy customer's calls
never queue up behind a burst of identical database reads when the TTL runs out. Entries
are dropped at once when this process commits a change to the table they mirror:
:func:`watch_tables` hooks SQLAlchemy's flush and commit events, collects the
``customer_id`` of every changed row of the watched tables, and invalidates those
customers after the commit. Bulk ``UPDATE``/``DELETE`` statements on a watched table
clear the whole cache, since their rows are not known.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_PENDING = "unitysvc_gateway_invalidate"
#: An expired entry older than this many TTLs is not served while refreshing.
_STALE_TTLS = 10

logger = logging.getLogger("unitysvc_server.gateway")

#: Loads a value: ``(value, customer_id)`` to cache, or ``None`` for "nothing" (not cached).
Loader = Callable[[], Awaitable["tuple[V, Any] | None"]]


class TTLCache(Generic[K, V]):
    """A dictionary whose entries expire after ``ttl`` seconds.

    Args:
        ttl: Seconds an entry stays valid.
        max_entries: Beyond this the cache is emptied (crude but bounded).
        clock: Monotonic seconds.
    """

    def __init__(
        self, ttl: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._keys_by_customer: dict[Any, set[K]] = {}
        self._loading: dict[K, asyncio.Task[V | None]] = {}
        self._generation = 0

    def put(self, key: K, value: V, customer_id: Any) -> None:
        """Store ``value``; ``customer_id`` names whose change invalidates it."""
        if len(self._entries) >= self._max:
            self.clear()
        self._entries[key] = (self._clock() + self.ttl, value)
        self._keys_by_customer.setdefault(customer_id, set()).add(key)

    async def get_or_load(self, key: K, load: Loader[V]) -> V | None:
        """The cached value, else the loaded one (one load per key at a time).

        An expired entry is returned as is while a single background load refreshes it.
        """
        item = self._entries.get(key)
        now = self._clock()
        if item is not None:
            expires, value = item
            if expires > now:
                return value
            if expires + self.ttl * _STALE_TTLS > now:
                if key not in self._loading:
                    self._loading[key] = asyncio.ensure_future(self._load(key, load, value))
                return value
        pending = self._loading.get(key)
        if pending is None:
            pending = self._loading[key] = asyncio.ensure_future(self._load(key, load, None))
        return await asyncio.shield(pending)

    async def _load(self, key: K, load: Loader[V], fallback: V | None) -> V | None:
        generation = self._generation
        try:
            result = await load()
        except Exception:
            if fallback is None:
                raise
            logger.warning("refreshing a cached customer context failed", exc_info=True)
            return fallback
        finally:
            self._loading.pop(key, None)
        if result is None:
            self._entries.pop(key, None)
            return None
        value, customer_id = result
        # An invalidation while loading means the value read may predate the change.
        if generation == self._generation:
            self.put(key, value, customer_id)
        return value

    def invalidate_customer(self, customer_id: Any) -> None:
        """Drop every entry stored for ``customer_id``."""
        self._generation += 1
        for key in self._keys_by_customer.pop(customer_id, ()):
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop everything."""
        self._generation += 1
        self._entries.clear()
        self._keys_by_customer.clear()


_watchers: list[tuple[frozenset[str], weakref.ref[TTLCache[Any, Any]]]] = []
_installed = False


def watch_tables(cache: TTLCache[Any, Any], tables: Iterable[str]) -> None:
    """Invalidate ``cache`` when rows of ``tables`` change in this process.

    Rows must have a ``customer_id`` attribute (or be keyed by it); the cache is held
    weakly, so a stopped server's cache does not linger.
    """
    global _installed
    _watchers.append((frozenset(tables), weakref.ref(cache)))
    if not _installed:
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)
        event.listen(Session, "do_orm_execute", _on_execute)
        _installed = True


def _live_watchers() -> list[tuple[frozenset[str], TTLCache[Any, Any]]]:
    live: list[tuple[frozenset[str], TTLCache[Any, Any]]] = []
    for tables, ref in list(_watchers):
        cache = ref()
        if cache is None:
            _watchers.remove((tables, ref))
        else:
            live.append((tables, cache))
    return live


def _after_flush(session: Session, _flush_context: UOWTransaction) -> None:
    watchers = _live_watchers()
    if not watchers:
        return
    pending: set[tuple[str, Any]] = session.info.setdefault(_PENDING, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table is not None and any(table in tables for tables, _ in watchers):
            pending.add((table, getattr(obj, "customer_id", None)))


def _after_commit(session: Session) -> None:
    pending: set[tuple[str, Any]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    for tables, cache in _live_watchers():
        for table, customer_id in pending:
            if table in tables:
                if customer_id is None:
                    cache.clear()
                else:
                    cache.invalidate_customer(customer_id)


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    table = getattr(getattr(mapper, "class_", None), "__tablename__", None)
    if table is None:
        return
    pending: set[tuple[str, Any]] = state.session.info.setdefault(_PENDING, set())
    pending.add((table, None))
