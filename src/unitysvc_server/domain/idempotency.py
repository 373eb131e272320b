"""``Idempotency-Key``: a POST runs once per (customer, key).

The key is taken (:func:`record`) inside the request's own transaction, so the
work and the key commit together: a crash can never leave work done without
the key taken, nor the key taken without the work. The response is stored
right after (:func:`store_response`) and replayed verbatim to retries with the
same request; a different request under the same key is a 409.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from unitysvc_server.domain.errors import Conflict
from unitysvc_server.storage.base import utcnow
from unitysvc_server.storage.tables.idempotency import IdempotencyRow

#: ASGI scope key under which the middleware hands the claim to the session.
IDEMPOTENCY_SCOPE_KEY = "unitysvc.idempotency"
#: How long an executed key is remembered (retries happen within seconds).
RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255

IN_PROGRESS = (
    "a request with this Idempotency-Key is still in progress or its response was lost; "
    "retry later or use a new key"
)


@dataclass
class IdempotencyClaim:
    """A request that will take ``key`` for ``customer_id`` if it succeeds."""

    customer_id: uuid.UUID
    key: str
    fingerprint: str
    method: str
    path: str
    recorded: bool = False


@dataclass(frozen=True)
class StoredResponse:
    """The recorded outcome of an executed key (``status_code`` None: not recorded yet)."""

    fingerprint: str
    status_code: int | None
    headers: list[tuple[str, str]]
    body: bytes


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """Identify a request: method, path (trailing slash ignored), query and body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.rstrip("/").encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def lookup(session: AsyncSession, customer_id: uuid.UUID, key: str) -> StoredResponse | None:
    """Return what was stored for ``key``, or None if it is unused (or expired)."""
    row = (
        await session.execute(
            select(IdempotencyRow).where(
                IdempotencyRow.customer_id == customer_id,
                IdempotencyRow.key == key,
                IdempotencyRow.created_at > utcnow() - RETENTION,
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return StoredResponse(
        fingerprint=row.fingerprint,
        status_code=row.status_code,
        headers=[(str(k), str(v)) for k, v in (row.response_headers or [])],
        body=row.response_body or b"",
    )


async def record(session: AsyncSession, claim: IdempotencyClaim) -> None:
    """Take the claim's key in ``session``'s transaction.

    Raises:
        Conflict: Another request took the key first (concurrent retry).
    """
    # An expired row of the same key would block the unique constraint.
    await session.execute(
        delete(IdempotencyRow).where(
            IdempotencyRow.customer_id == claim.customer_id,
            IdempotencyRow.created_at <= utcnow() - RETENTION,
        )
    )
    try:
        async with session.begin_nested():
            session.add(
                IdempotencyRow(
                    customer_id=claim.customer_id,
                    key=claim.key,
                    fingerprint=claim.fingerprint,
                    method=claim.method,
                    path=claim.path,
                )
            )
    except IntegrityError:
        raise Conflict(IN_PROGRESS) from None
    claim.recorded = True


async def store_response(
    session: AsyncSession,
    claim: IdempotencyClaim,
    status_code: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    """Attach the response to a taken key, or take it now (routes without a session)."""
    values: dict[str, Any] = {
        "status_code": status_code,
        "response_headers": [list(pair) for pair in headers],
        "response_body": body,
    }
    if claim.recorded:
        await session.execute(
            update(IdempotencyRow)
            .where(
                IdempotencyRow.customer_id == claim.customer_id,
                IdempotencyRow.key == claim.key,
                IdempotencyRow.fingerprint == claim.fingerprint,
            )
            .values(**values)
        )
        return
    await record(session, claim)
    await session.flush()
    await session.execute(
        update(IdempotencyRow)
        .where(IdempotencyRow.customer_id == claim.customer_id, IdempotencyRow.key == claim.key)
        .values(**values)
    )
