"""FastAPI dependencies shared by every router.

* :data:`SessionDep` -- one session and one transaction per request: committed
  when the handler returns, rolled back when anything raises, so a failed
  request leaves nothing written. It is closed *before* the response is sent
  (``scope="function"``), so a 2xx always means "committed" — and that every
  server process sharing the database has dropped its cached copy of what changed.
* :data:`CustomerDep` -- the authenticated customer, 401 otherwise.
* :data:`OptionalCustomerDep` -- the customer, or ``None`` for an anonymous
  caller (no ``Authorization`` header); a present but bad header is still 401.
* :data:`RuntimeDep`, :data:`SettingsDep` -- the process runtime and settings
  (the catalog's dependency is in :mod:`unitysvc_server.api.catalog_deps`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from unitysvc_server.asgi_io import parse_bearer
from unitysvc_server.config import Settings
from unitysvc_server.crypto import hash_api_key
from unitysvc_server.domain import customers
from unitysvc_server.domain.customers import Customer
from unitysvc_server.domain.errors import Unauthorized
from unitysvc_server.domain.idempotency import (
    IDEMPOTENCY_SCOPE_KEY,
    IdempotencyClaim,
    mark_committed,
)
from unitysvc_server.domain.sessions import Session
from unitysvc_server.runtime import Runtime

__all__ = [
    "app_runtime",
    "Customer",
    "CustomerDep",
    "LimitQuery",
    "OptionalCustomerDep",
    "RuntimeDep",
    "SessionDep",
    "SettingsDep",
    "SkipQuery",
    "CursorQuery",
    "bearer_token",
]

AUTH_REQUIRED = "Authorization header required"
AUTH_MALFORMED = "malformed Authorization header; send 'Authorization: Bearer svcpass_...'"
AUTH_INVALID = "invalid or revoked API key"
#: ASGI scope key under which a middleware that already authenticated the
#: request's key (:class:`~unitysvc_server.api.middleware.Idempotency`) leaves
#: the :class:`Customer`, so the request costs one key lookup, not two.
CUSTOMER_SCOPE_KEY = "unitysvc.customer"


# The dependencies below are coroutines although they never await: FastAPI runs a plain
# function in its thread pool, a hand-off to another thread (and back) per request.
# They read the runtime from the request rather than depend on get_runtime: FastAPI's
# bookkeeping of each dependency it solves (sub-dependencies, cache keys, parameters)
# cost more CPU per request than most of what they do.


def app_runtime(request: Request) -> Runtime:
    """The :class:`Runtime` of the app serving ``request``."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    """The :class:`Runtime` of the running app."""
    return app_runtime(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(request: Request) -> Settings:
    """The process settings (``secret_key`` resolved)."""
    return app_runtime(request).settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Yield the request's session; commit on success, roll back on any error."""
    runtime = app_runtime(request)
    async with runtime.sessionmaker() as session:
        try:
            yield session
            claim = request.scope.get(IDEMPOTENCY_SCOPE_KEY)
            if isinstance(claim, IdempotencyClaim):
                # Marked in the same transaction as the work: both commit or neither.
                await mark_committed(session, claim)
            await session.commit()
            if isinstance(claim, IdempotencyClaim):
                claim.recorded = True
        except BaseException:
            await session.rollback()
            raise
        # Before the response: other processes have dropped what this commit changed.
        await runtime.invalidation.flush()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def bearer_token(header: str) -> str:
    """Return the token of an ``Authorization: Bearer <token>`` header value.

    Raises:
        Unauthorized: The value is not ``Bearer`` followed by a non-empty token.
    """
    token = parse_bearer(header)
    if not token:
        raise Unauthorized(AUTH_MALFORMED)
    return token


async def _authenticated(request: Request, session: Session, authorization: str) -> Customer:
    known = request.scope.get(CUSTOMER_SCOPE_KEY)
    if isinstance(known, Customer):
        return known
    token = bearer_token(authorization)
    runtime = app_runtime(request)
    runtime.invalidation.check()  # other processes' revocations, before the cache
    key_hash = hash_api_key(token)
    customer = runtime.keys.get(key_hash)
    if customer is not None:
        return customer
    generation = runtime.keys.generation
    customer = await customers.authenticate(session, token)
    if customer is None:
        raise Unauthorized(AUTH_INVALID)
    runtime.keys.put(key_hash, customer, generation)
    return customer


async def get_optional_customer(
    request: Request,
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Customer | None:
    """The caller, or ``None`` when no ``Authorization`` header was sent.

    Raises:
        Unauthorized: The header is present but malformed, or the key is
            unknown or revoked.
    """
    if authorization is None:
        return None
    return await _authenticated(request, session, authorization)


OptionalCustomerDep = Annotated[Customer | None, Depends(get_optional_customer)]


async def get_customer(
    request: Request,
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Customer:
    """The authenticated caller.

    One dependency, not one on :func:`get_optional_customer`: each level FastAPI
    solves is CPU of every authenticated request.

    Raises:
        Unauthorized: No header, a malformed one, or an unknown/revoked key.
    """
    if authorization is None:
        raise Unauthorized(AUTH_REQUIRED)
    return await _authenticated(request, session, authorization)


CustomerDep = Annotated[Customer, Depends(get_customer)]

#: The largest ``skip`` (and unbounded ``limit``) a list accepts: both databases
#: bind offsets as signed 64-bit integers, so anything larger would be a 500.
MAX_OFFSET = 2**63 - 1

#: ``skip`` of every skip/limit list.
SkipQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
#: ``limit`` of the skip/limit lists whose contract page size is 1..1000.
LimitQuery = Annotated[int, Query(ge=1, le=1000)]
#: ``cursor`` of the keyset-paged lists (our extension to the contract's skip/limit).
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=1000,
        description="The next_cursor of the previous page (keyset paging; a unitysvc "
        "server extension). Omit for the first page; not combined with skip.",
    ),
]
