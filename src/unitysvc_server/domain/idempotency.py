"""``Idempotency-Key``: a POST runs once per (customer, key), whatever races or retries.

The key is *claimed* before the request runs (:func:`claim`: a unique row inserted and
committed in a transaction of its own), so no side effect — a database write, an
upstream call — can happen twice: a duplicate finds the claim and waits for the first
request's outcome, then gets its response replayed. The request's own transaction marks
the claim (:func:`mark_committed`), so "the work happened" and "the key is spent"
commit together; the response is stored right after (:func:`store_response`). A
request that commits nothing and fails gives the key back (:func:`release`), so a retry
runs again. A different request under a used key is a 409.

A claim whose process died before committing anything would block its key forever;
after :data:`LEASE` without a response or committed work it is taken over.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from unitysvc_server.clock import utcnow
from unitysvc_server.storage.errors import Duplicate
from unitysvc_server.storage.queries import idempotency as queries
from unitysvc_server.storage.session import Session, Sessions
from unitysvc_server.storage.tables.idempotency import IdempotencyRow

#: ASGI scope key under which the middleware hands the claim to the session.
IDEMPOTENCY_SCOPE_KEY = "unitysvc.idempotency"
#: How long an executed key is remembered (retries happen within seconds).
RETENTION = timedelta(hours=24)
#: A claim without committed work or a response this old is abandoned (its process
#: died): longer than any request may run (the gateway's upstream read timeout is 300 s).
LEASE = timedelta(minutes=15)
MAX_KEY_LENGTH = 255

IN_PROGRESS = (
    "a request with this Idempotency-Key is still in progress or its response was lost; "
    "retry later or use a new key"
)
DIFFERENT_REQUEST = (
    "Idempotency-Key was already used for a different request; use a new key for a new request"
)


@dataclass
class IdempotencyClaim:
    """A request holding ``key`` for ``customer_id``.

    Attributes:
        recorded: The request's transaction committed with the claim marked
            (:func:`mark_committed`): the work is done, the key is spent.
    """

    customer_id: uuid.UUID
    key: str
    fingerprint: str
    method: str
    path: str
    recorded: bool = False


@dataclass(frozen=True)
class StoredResponse:
    """What a claimed key holds (``status_code`` None: no response recorded yet).

    Attributes:
        work_committed: The request's work committed (no response: it was lost).
        claimed_at: When the key was claimed.
    """

    fingerprint: str
    status_code: int | None
    headers: list[tuple[str, str]]
    body: bytes
    work_committed: bool = False
    claimed_at: datetime | None = None

    @property
    def abandoned(self) -> bool:
        """An unanswered claim without committed work, older than :data:`LEASE`."""
        return (
            self.status_code is None
            and not self.work_committed
            and self.claimed_at is not None
            and self.claimed_at < utcnow() - LEASE
        )


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """Identify a request: method, path (trailing slash ignored), query and body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.rstrip("/").encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def lookup(session: Session, customer_id: uuid.UUID, key: str) -> StoredResponse | None:
    """Return what is stored for ``key``, or None if it is unused (or expired)."""
    row = await queries.row_since(session, customer_id, key, utcnow() - RETENTION)
    if row is None:
        return None
    return StoredResponse(
        fingerprint=row.fingerprint,
        status_code=row.status_code,
        headers=[(str(k), str(v)) for k, v in (row.response_headers or [])],
        body=row.response_body or b"",
        work_committed=row.work_committed_at is not None,
        claimed_at=row.created_at,
    )


async def claim(sessionmaker: Sessions, claim: IdempotencyClaim) -> StoredResponse | None:
    """Claim the key for ``claim`` in a committed transaction of its own.

    Returns:
        ``None`` when the key is now this request's; else what the key holds (another
        request's claim, in progress or answered). An abandoned claim is taken over.
    """
    for _ in range(3):
        async with sessionmaker() as session:
            try:
                async with session.begin():
                    # An expired row of the same key would block the unique constraint.
                    await queries.delete_expired(session, claim.customer_id, utcnow() - RETENTION)
                    await queries.insert(
                        session,
                        IdempotencyRow(
                            customer_id=claim.customer_id,
                            key=claim.key,
                            fingerprint=claim.fingerprint,
                            method=claim.method,
                            path=claim.path[:2000],
                        ),
                    )
                return None
            except Duplicate:
                pass
        async with sessionmaker() as session:
            stored = await lookup(session, claim.customer_id, claim.key)
            if stored is None:
                continue  # released meanwhile: try again
            if not stored.abandoned:
                return stored
            async with session.begin():
                await queries.delete_abandoned(session, claim.customer_id, claim.key)
    async with sessionmaker() as session:
        return await lookup(session, claim.customer_id, claim.key)


async def mark_committed(session: Session, claim: IdempotencyClaim) -> None:
    """Mark, in the request's own transaction, that its work is part of this commit."""
    await queries.update_claim(
        session, claim.customer_id, claim.key, claim.fingerprint, work_committed_at=utcnow()
    )


async def store_response(
    session: Session,
    claim: IdempotencyClaim,
    status_code: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    """Attach the response to the claimed key."""
    values: dict[str, Any] = {
        "status_code": status_code,
        "response_headers": [list(pair) for pair in headers],
        "response_body": body,
    }
    await queries.update_claim(session, claim.customer_id, claim.key, claim.fingerprint, **values)


async def release(session: Session, claim: IdempotencyClaim) -> None:
    """Give the key back: the request failed without committing any work."""
    await queries.delete_unanswered(session, claim.customer_id, claim.key, claim.fingerprint)
