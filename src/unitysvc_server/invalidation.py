"""Cross-process cache invalidation: one bus every process on a database shares.

Processes keep short-lived caches of what the database says (the gateway's key,
logging-preference and caller-context caches). When something they mirror changes —
a key is revoked, a customer deleted, a secret set — every process must drop its copy
*before* it serves another request from it, wherever the change was made (an API call
on another server, the ``usvc server keys`` CLI). This module is that one mechanism:

* :class:`Invalidation` — what to drop: one customer's entries, one key's, or everything;
* :class:`InvalidationBus` — :meth:`~InvalidationBus.subscribe` a listener (a cache),
  :meth:`~InvalidationBus.publish_nowait` / :meth:`~InvalidationBus.publish` changes.
  Local listeners hear a change at once; other processes through the transports:

  - on SQLite, a small shared file next to the database (:class:`FileTransport`): a
    change counter and a ring of recent invalidations in a memory map. Readers call
    :meth:`~InvalidationBus.check` before serving a request — one 8-byte read — so a
    change committed before another process's next request is always seen by it;
  - on PostgreSQL, ``LISTEN``/``NOTIFY`` on the database itself (:class:`PostgresTransport`);
  - with a Redis URL, Redis pub/sub as well (:class:`RedisTransport`) — for databases
    reached through a pooler that cannot hold a ``LISTEN`` (PgBouncer in transaction
    mode).

  A publish over PostgreSQL or Redis returns once every other listening process has
  *acknowledged* the message — dropped what it names and said so on the channel — so a
  request a client sends *after* a revocation returned is judged on fresh data by every
  process. (Waiting only for the publisher's own echo is not enough: the server has then
  sent the message to every subscriber, but a busy process may still read a request
  waiting on its socket before the notification.) The publisher learns how many
  processes listen from the publish itself (Redis ``PUBLISH`` answers the number of
  subscribers; on PostgreSQL the listening sessions name themselves in
  ``application_name``, counted in ``pg_stat_activity``); a process that does not answer
  within :data:`ECHO_SECONDS` is logged and not waited for longer. A subscription that
  breaks and reconnects delivers "everything" (messages may have been missed); the
  caches' short TTL remains a last bound.

* :func:`watch_tables` — SQLAlchemy session hooks that publish, after a commit, an
  invalidation for every customer whose rows of a watched table changed, so ordinary
  writes need no explicit publish. Sessions find their bus in ``session.info``
  (:data:`BUS_INFO_KEY`, set by :func:`unitysvc_server.storage.db.make_sessionmaker`).
  A bulk ``UPDATE``/``DELETE`` names what it invalidates with the execution option
  ``invalidates`` (a sequence of :class:`Invalidation`), else it invalidates everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import mmap
import os
import struct
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

logger = logging.getLogger("unitysvc_server.invalidation")

__all__ = [
    "BUS_INFO_KEY",
    "FileTransport",
    "Invalidation",
    "InvalidationBus",
    "Listener",
    "PostgresTransport",
    "RedisTransport",
    "install_session_hooks",
    "make_bus",
    "watch_tables",
]

#: ``session.info`` key under which a session finds the bus it publishes to.
BUS_INFO_KEY = "unitysvc.invalidation_bus"
#: How long a publish waits for its own message to come back and the others' answers.
ECHO_SECONDS = 2.0
#: First word of an acknowledgement on a pub/sub channel (message nonces are hex).
_ACK = "ack"
#: Pause before a broken subscription reconnects (doubling up to 30 s).
RECONNECT_SECONDS = 0.5

Kind = Literal["customer", "key", "all"]


@dataclass(frozen=True, slots=True)
class Invalidation:
    """What cached entries to drop.

    Attributes:
        kind: ``customer`` (every entry of one customer), ``key`` (the entry of one API
            key, by its stored hash), or ``all``.
        value: The customer id (``str(uuid)``) or the key's hex SHA-256; empty for ``all``.
    """

    kind: Kind
    value: str = ""

    @classmethod
    def customer(cls, customer_id: uuid.UUID | str) -> Invalidation:
        """Drop everything cached for one customer."""
        return cls("customer", str(customer_id))

    @classmethod
    def key(cls, key_hash: str) -> Invalidation:
        """Drop what is cached for one API key (``hash_api_key`` of it)."""
        return cls("key", key_hash)

    @classmethod
    def everything(cls) -> Invalidation:
        """Drop every cached entry."""
        return cls("all")

    def encode(self) -> str:
        """``kind:value``."""
        return f"{self.kind}:{self.value}"

    @classmethod
    def decode(cls, text: str) -> Invalidation:
        """Inverse of :meth:`encode`; anything unreadable means ``all``."""
        kind, _, value = text.partition(":")
        if kind == "customer" and value:
            return cls("customer", value)
        if kind == "key" and value:
            return cls("key", value)
        return cls("all")


EVERYTHING = Invalidation.everything()

#: Hears invalidations (must not block: it runs on the event loop or in a session hook).
Listener = Callable[[Invalidation], None]


class Transport(Protocol):
    """Carries invalidations between processes.

    Attributes:
        immediate: :meth:`send` completes without waiting (it is called synchronously
            from :meth:`InvalidationBus.publish_nowait` through :meth:`write`).
    """

    immediate: bool

    def write(self, invalidations: Sequence[Invalidation]) -> None:
        """Publish synchronously (only called when :attr:`immediate`)."""
        ...

    async def start(self, deliver: Listener) -> None:
        """Begin delivering other processes' invalidations to ``deliver``."""
        ...

    async def send(self, invalidations: Sequence[Invalidation]) -> None:
        """Publish; return once other processes can see them."""
        ...

    def check(self) -> None:
        """Deliver what arrived since the last check (transports that poll)."""
        ...

    async def close(self) -> None:
        """Stop delivering and release connections."""
        ...


class InvalidationBus:
    """Local listeners plus the transports to other processes (see the module docs).

    Args:
        transports: Where invalidations travel to and come from; none: this process only.
    """

    def __init__(self, transports: Sequence[Transport] = ()) -> None:
        self._transports = list(transports)
        self._listeners: list[Listener] = []
        self._outbox: list[Invalidation] = []
        self._lock: asyncio.Lock | None = None
        self._drains: set[asyncio.Task[None]] = set()
        self._started = False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every invalidation, local or remote; returns the unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def deliver(self, invalidation: Invalidation) -> None:
        """Hand ``invalidation`` to this process's listeners."""
        for listener in list(self._listeners):
            try:
                listener(invalidation)
            except Exception:
                logger.exception("a cache failed to apply an invalidation")

    def check(self) -> None:
        """Take in what other processes published, for transports that poll (cheap)."""
        for transport in self._transports:
            transport.check()

    def publish_nowait(self, *invalidations: Invalidation) -> None:
        """Deliver locally now; send to other processes as soon as possible.

        Usable from synchronous code (session hooks). :meth:`flush` waits until sent.
        """
        for invalidation in invalidations:
            self.deliver(invalidation)
        if not invalidations:
            return
        queued = False
        for transport in self._transports:
            if transport.immediate:
                try:
                    transport.write(invalidations)
                except OSError as exc:
                    logger.error("could not publish cache invalidations: %s", exc)
            else:
                queued = True
        if not queued:
            return
        self._outbox.extend(invalidations)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (plain synchronous use): flush() sends it later
        task = loop.create_task(self._drain())
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def publish(self, *invalidations: Invalidation) -> None:
        """Deliver locally and return once other processes can see the invalidations."""
        self.publish_nowait(*invalidations)
        await self.flush()

    async def flush(self) -> None:
        """Wait until every queued invalidation has been sent."""
        if self._transports:
            await self._drain()

    async def _drain(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while self._outbox:
                batch, self._outbox = self._outbox, []
                for transport in self._transports:
                    if transport.immediate:
                        continue
                    try:
                        await transport.send(batch)
                    except Exception as exc:
                        # Other processes stay stale until their TTL: say so, loudly.
                        logger.error(
                            "could not publish %d cache invalidation(s) via %s: %s",
                            len(batch),
                            type(transport).__name__,
                            exc,
                        )

    async def start(self) -> None:
        """Start receiving other processes' invalidations."""
        if self._started:
            return
        self._started = True
        for transport in self._transports:
            await transport.start(self.deliver)

    async def close(self) -> None:
        """Send what is queued, then stop the transports."""
        with contextlib.suppress(Exception):
            await self.flush()
        for transport in self._transports:
            with contextlib.suppress(Exception):
                await transport.close()
        self._started = False


# -- SQLite: a shared, memory-mapped change log -------------------------------------------

_MAGIC = b"USVCINV1"
_HEADER = struct.Struct("<8sQ")  # magic, sequence number of the last entry
_SLOT = struct.Struct("<QB7x32s")  # sequence, kind, padding, value
_SLOTS = 1024
_FILE_SIZE = _HEADER.size + _SLOT.size * _SLOTS
_KIND_CODES: dict[Kind, int] = {"all": 0, "customer": 1, "key": 2}
_KIND_NAMES = {code: kind for kind, code in _KIND_CODES.items()}


def _pack_value(invalidation: Invalidation) -> bytes:
    if invalidation.kind == "customer":
        return uuid.UUID(invalidation.value).bytes.ljust(32, b"\0")
    if invalidation.kind == "key":
        return bytes.fromhex(invalidation.value)
    return b"\0" * 32


def _unpack_value(kind: Kind, value: bytes) -> Invalidation:
    if kind == "customer":
        return Invalidation.customer(uuid.UUID(bytes=value[:16]))
    if kind == "key":
        return Invalidation.key(value.hex())
    return EVERYTHING


class FileTransport:
    """Invalidations through a file beside the SQLite database, polled per request.

    The file holds the sequence number of the last invalidation and a ring of the last
    1,024. Writers append under an exclusive ``flock``; readers map the file and compare
    one integer per :meth:`check`. A reader more than a ring behind, or reading a slot a
    writer has just reused, drops everything instead. Writing before the change commits
    is never needed: the writer publishes after its commit, and a reader that sees the
    new sequence number reads the database afterwards.

    Args:
        path: The shared file (created, mode 0600, when missing).
    """

    immediate = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._seen = 0
        self._deliver: Listener | None = None

    def _open(self) -> mmap.mmap:
        # Opened on first use: an app built but never started holds no descriptor.
        if self._map is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            with self._locked():
                if os.fstat(self._fd).st_size < _FILE_SIZE:
                    os.ftruncate(self._fd, _FILE_SIZE)
                    os.pwrite(self._fd, _HEADER.pack(_MAGIC, 0), 0)
            self._map = mmap.mmap(self._fd, _FILE_SIZE)
            self._seen = self._sequence()
        return self._map

    @contextlib.contextmanager
    def _locked(self) -> Any:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _sequence(self) -> int:
        magic, sequence = _HEADER.unpack_from(self._open())
        return int(sequence) if magic == _MAGIC else 0

    async def start(self, deliver: Listener) -> None:
        self._deliver = deliver
        self._seen = self._sequence()

    async def send(self, invalidations: Sequence[Invalidation]) -> None:
        self.write(invalidations)

    def write(self, invalidations: Sequence[Invalidation]) -> None:
        """Append ``invalidations`` to the shared log (synchronous: microseconds)."""
        shared = self._open()
        with self._locked():
            sequence = self._sequence()
            caught_up = sequence == self._seen
            for invalidation in invalidations:
                sequence += 1
                offset = _HEADER.size + _SLOT.size * (sequence % _SLOTS)
                _SLOT.pack_into(
                    shared,
                    offset,
                    sequence,
                    _KIND_CODES[invalidation.kind],
                    _pack_value(invalidation),
                )
            # The slots first, then the number readers compare.
            _HEADER.pack_into(shared, 0, _MAGIC, sequence)
            if caught_up:
                self._seen = sequence  # our own entries: already delivered locally

    def check(self) -> None:
        if self._deliver is None:
            return
        sequence = self._sequence()
        if sequence == self._seen:
            return
        seen, self._seen = self._seen, sequence
        if sequence - seen > _SLOTS or sequence < seen:
            self._deliver(EVERYTHING)
            return
        for expected in range(seen + 1, sequence + 1):
            offset = _HEADER.size + _SLOT.size * (expected % _SLOTS)
            slot_sequence, code, value = _SLOT.unpack_from(self._open(), offset)
            if slot_sequence != expected:  # reused by a writer meanwhile
                self._deliver(EVERYTHING)
                return
            self._deliver(_unpack_value(_KIND_NAMES.get(code, "all"), value))

    async def close(self) -> None:
        self._deliver = None
        shared, self._map = self._map, None
        if shared is not None:
            with contextlib.suppress(Exception):
                shared.close()
            with contextlib.suppress(OSError):
                os.close(self._fd)


# -- PostgreSQL and Redis: pub/sub with an echo ------------------------------------------


@dataclass
class _Publication:
    """A message this process published, waiting for its echo and the others' answers."""

    echo: asyncio.Future[None]
    acknowledged_by: set[str] = field(default_factory=set)
    answered: asyncio.Event = field(default_factory=asyncio.Event)


class _EchoTransport:
    """Shared by the pub/sub transports: message framing, the echo and acknowledgements."""

    immediate = False

    def __init__(self) -> None:
        self._deliver: Listener | None = None
        self._node = uuid.uuid4().hex[:16]
        self._publications: dict[str, _Publication] = {}
        self._acknowledging: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._delay = RECONNECT_SECONDS

    def check(self) -> None:
        return None

    def write(self, invalidations: Sequence[Invalidation]) -> None:
        raise NotImplementedError("pub/sub transports send asynchronously")

    def _received(self, payload: str) -> None:
        nonce, _, body = payload.partition(" ")
        if nonce == _ACK:
            acked, _, node = body.partition(" ")
            publication = self._publications.get(acked)
            if publication is not None:
                publication.acknowledged_by.add(node)
                publication.answered.set()
            return
        publication = self._publications.get(nonce)
        if publication is not None:
            if not publication.echo.done():
                publication.echo.set_result(None)
            return  # ours: already delivered locally
        if self._deliver is not None:
            for line in body.split("\n"):
                if line:
                    self._deliver(Invalidation.decode(line))
            # Dropped: tell the publisher, which waits for every listening process.
            task = asyncio.get_running_loop().create_task(self._acknowledge(nonce))
            self._acknowledging.add(task)
            task.add_done_callback(self._acknowledging.discard)

    async def _acknowledge(self, nonce: str) -> None:
        try:
            await self._publish(f"{_ACK} {nonce} {self._node}")
        except Exception as exc:  # the publisher times out and logs; nothing to undo here
            logger.debug("could not acknowledge a cache invalidation: %s", exc)

    def _reconnected(self) -> None:
        # Messages published while we were away are lost: drop everything once.
        if self._deliver is not None:
            self._deliver(EVERYTHING)

    async def start(self, deliver: Listener) -> None:
        self._deliver = deliver
        self._task = asyncio.get_running_loop().create_task(self._listen_forever())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 10)

    async def _listen_forever(self) -> None:
        first = True
        while not self._closing:
            try:
                await self._listen(first)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready.clear()
                if not self._closing:
                    logger.warning("cache invalidation subscription lost (%s); reconnecting", exc)
                    await asyncio.sleep(self._delay)
                    self._delay = min(self._delay * 2, 30.0)
            first = False

    async def _listen(self, first: bool) -> None:
        raise NotImplementedError

    async def _publish(self, payload: str) -> int | None:
        """Publish; the number of processes listening (this one included), if known."""
        raise NotImplementedError

    async def send(self, invalidations: Sequence[Invalidation]) -> None:
        nonce = uuid.uuid4().hex
        publication = _Publication(asyncio.get_running_loop().create_future())
        self._publications[nonce] = publication
        payload = nonce + " " + "\n".join(i.encode() for i in invalidations)
        try:
            listening = await self._publish(payload)
            if self._ready.is_set():
                async with asyncio.timeout(ECHO_SECONDS):
                    await publication.echo
                    others = (listening or 1) - 1
                    while len(publication.acknowledged_by) < others:
                        publication.answered.clear()
                        await publication.answered.wait()
        except TimeoutError:
            logger.warning(
                "a cache invalidation was published but %s",
                "its echo did not return"
                if not publication.echo.done()
                else f"only {len(publication.acknowledged_by)} of the other listening "
                "processes acknowledged it in time",
            )
        finally:
            self._publications.pop(nonce, None)

    async def _stop_listening(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None


class PostgresTransport(_EchoTransport):
    """``LISTEN``/``NOTIFY`` on the platform's own PostgreSQL database.

    Notifications reach only sessions of the same database, so the channel needs no
    further namespace. One dedicated connection listens and publishes.

    Args:
        database_url: The SQLAlchemy URL (``postgresql+asyncpg://...``).
        channel: The notification channel.
    """

    def __init__(self, database_url: str, channel: str = "unitysvc_invalidate") -> None:
        super().__init__()
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._channel = channel
        # The listening sessions say who they are, so a publisher can count them.
        self._listener_name = f"unitysvc-listen:{channel}"[:63]
        self._connection: Any = None
        # One connection listens, publishes and acknowledges: one statement at a time.
        self._lock = asyncio.Lock()

    async def _listen(self, first: bool) -> None:
        import asyncpg  # type: ignore[import-untyped]

        connection = await asyncpg.connect(
            self._dsn, server_settings={"application_name": self._listener_name}
        )
        lost = asyncio.get_running_loop().create_future()

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            self._received(payload)

        def on_terminate(_conn: Any) -> None:
            if not lost.done():
                lost.set_result(None)

        try:
            connection.add_termination_listener(on_terminate)
            await connection.add_listener(self._channel, on_notify)
            self._connection = connection
            if not first:
                self._reconnected()
            self._delay = RECONNECT_SECONDS
            self._ready.set()
            await lost
            raise ConnectionError("the PostgreSQL listener connection closed")
        finally:
            self._connection = None
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    async def _publish(self, payload: str) -> int | None:
        connection = self._connection
        if connection is None:
            import asyncpg

            # Not listening (yet): publish on a short-lived connection.
            connection = await asyncpg.connect(self._dsn)
            try:
                await connection.execute("SELECT pg_notify($1, $2)", self._channel, payload)
            finally:
                await connection.close()
            return None
        async with self._lock:
            listening: int = await connection.fetchval(
                "SELECT (SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = $3)"
                " FROM (SELECT pg_notify($1, $2)) AS sent",
                self._channel,
                payload,
                self._listener_name,
            )
        return listening

    async def close(self) -> None:
        await self._stop_listening()


class RedisTransport(_EchoTransport):
    """Redis pub/sub on a channel named after the database, so deployments sharing a
    Redis server do not invalidate each other.

    Args:
        redis_url: ``redis://host:port/db``.
        namespace: Distinguishes databases (a hash of the database's identity).
    """

    def __init__(self, redis_url: str, namespace: str) -> None:
        super().__init__()
        from redis.asyncio import Redis

        self._redis = Redis.from_url(redis_url)
        self.channel = f"unitysvc:invalidate:{namespace}"

    async def _listen(self, first: bool) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            if not first:
                self._reconnected()
            self._delay = RECONNECT_SECONDS
            self._ready.set()
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                data = message.get("data")
                self._received(data.decode() if isinstance(data, bytes) else str(data))
            raise ConnectionError("the Redis subscription ended")
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _publish(self, payload: str) -> int | None:
        listening: int = await self._redis.publish(self.channel, payload)
        return listening

    async def close(self) -> None:
        await self._stop_listening()
        with contextlib.suppress(Exception):
            await self._redis.aclose()


def _database_identity(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:{Path(url.database or '').resolve()}"
    return f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"


def sqlite_invalidation_file(database_url: str) -> Path | None:
    """The shared invalidation file of a SQLite database (``None``: in-memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).with_name(Path(url.database).name + "-invalidations")


def make_bus(database_url: str, redis_url: str | None = None) -> InvalidationBus:
    """The bus for processes sharing ``database_url``: the database's own transport
    (the shared file on SQLite, ``LISTEN``/``NOTIFY`` on PostgreSQL), plus Redis when a
    URL is given."""
    transports: list[Transport] = []
    path = sqlite_invalidation_file(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        transports.append(FileTransport(path))
    elif make_url(database_url).get_backend_name() == "postgresql":
        transports.append(PostgresTransport(database_url))
    if redis_url:
        namespace = hashlib.sha256(_database_identity(database_url).encode()).hexdigest()[:16]
        transports.append(RedisTransport(redis_url, namespace))
    return InvalidationBus(transports)


# -- session hooks ------------------------------------------------------------------------

_PENDING = "unitysvc.invalidations_pending"
_watched: set[str] = set()
_installed = False


def watch_tables(tables: Iterable[str]) -> None:
    """Publish an invalidation after every commit that changed rows of ``tables``.

    A changed ORM row invalidates its ``customer_id`` (rows without one: everything); a
    bulk ``UPDATE``/``DELETE`` invalidates what its ``invalidates`` execution option
    names, else everything. Process-wide and idempotent.
    """
    _watched.update(tables)
    install_session_hooks()


def install_session_hooks() -> None:
    """Make sessions that carry a bus publish their commits' invalidations (idempotent).

    Called for every session factory made with a bus, so explicit invalidations (the
    ``invalidates`` execution option) are published in any process, the CLI included.
    """
    global _installed
    if not _installed:
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)
        event.listen(Session, "do_orm_execute", _on_execute)
        _installed = True


def _pending(session: Session) -> set[Invalidation]:
    pending: set[Invalidation] = session.info.setdefault(_PENDING, set())
    return pending


def _after_flush(session: Session, _flush_context: UOWTransaction) -> None:
    if BUS_INFO_KEY not in session.info:
        return  # nobody to tell (a session made without a bus)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in _watched:
            customer_id = getattr(obj, "customer_id", None)
            _pending(session).add(
                EVERYTHING if customer_id is None else Invalidation.customer(customer_id)
            )


def _on_execute(state: ORMExecuteState) -> None:
    if BUS_INFO_KEY not in state.session.info:
        return
    named: Sequence[Invalidation] | None = state.execution_options.get("invalidates")
    if named is not None:
        _pending(state.session).update(named)
        return
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    table = getattr(getattr(mapper, "class_", None), "__tablename__", None)
    if table in _watched:
        _pending(state.session).add(EVERYTHING)


def _after_commit(session: Session) -> None:
    pending: set[Invalidation] | None = session.info.pop(_PENDING, None)
    bus = session.info.get(BUS_INFO_KEY)
    if pending and isinstance(bus, InvalidationBus):
        if EVERYTHING in pending:
            pending = {EVERYTHING}
        bus.publish_nowait(*sorted(pending, key=Invalidation.encode))


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
