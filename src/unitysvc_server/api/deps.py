"""FastAPI dependencies shared by every router.

* :data:`SessionDep` -- one session and one transaction per request: committed
  when the handler returns, rolled back when anything raises, so a failed
  request leaves nothing written. It is closed *before* the response is sent
  (``scope="function"``), so a 2xx always means "committed".
* :data:`CustomerDep` -- the authenticated customer, 401 otherwise.
* :data:`OptionalCustomerDep` -- the customer, or ``None`` for an anonymous
  caller (no ``Authorization`` header); a present but bad header is still 401.
* :data:`RuntimeDep`, :data:`SettingsDep`, :data:`CatalogDep` -- the process
  runtime, settings and loaded catalog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from unitysvc_server.config import Settings
from unitysvc_server.domain import customers
from unitysvc_server.domain.customers import Customer
from unitysvc_server.domain.errors import Unauthorized
from unitysvc_server.domain.idempotency import IDEMPOTENCY_SCOPE_KEY, IdempotencyClaim, record
from unitysvc_server.runtime import Runtime

__all__ = [
    "CatalogDep",
    "Customer",
    "CustomerDep",
    "OptionalCustomerDep",
    "RuntimeDep",
    "SessionDep",
    "SettingsDep",
    "bearer_token",
]

AUTH_REQUIRED = "Authorization header required"
AUTH_MALFORMED = "malformed Authorization header; send 'Authorization: Bearer svcpass_...'"
AUTH_INVALID = "invalid or revoked API key"


def get_runtime(request: Request) -> Runtime:
    """The :class:`Runtime` of the running app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    """The process settings (``secret_key`` resolved)."""
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_catalog(runtime: RuntimeDep) -> Any:
    """The loaded catalog (set on ``runtime.catalog`` by the catalog component).

    Raises:
        RuntimeError: No catalog component ran -- a wiring bug, answered 500.
    """
    if runtime.catalog is None:
        raise RuntimeError("the catalog is not loaded; is the catalog component registered?")
    return runtime.catalog


CatalogDep = Annotated[Any, Depends(get_catalog)]


async def get_session(request: Request, runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """Yield the request's session; commit on success, roll back on any error."""
    async with runtime.sessionmaker() as session:
        try:
            yield session
            claim = request.scope.get(IDEMPOTENCY_SCOPE_KEY)
            if isinstance(claim, IdempotencyClaim):
                # Taken in the same transaction as the work: both commit or neither.
                await record(session, claim)
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def bearer_token(header: str) -> str:
    """Return the token of an ``Authorization: Bearer <token>`` header value.

    Raises:
        Unauthorized: The value is not ``Bearer`` followed by a non-empty token.
    """
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized(AUTH_MALFORMED)
    return token


async def get_optional_customer(
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
    customer = await customers.authenticate(session, bearer_token(authorization))
    if customer is None:
        raise Unauthorized(AUTH_INVALID)
    return customer


OptionalCustomerDep = Annotated[Customer | None, Depends(get_optional_customer)]


async def get_customer(customer: OptionalCustomerDep) -> Customer:
    """The authenticated caller.

    Raises:
        Unauthorized: No header, a malformed one, or an unknown/revoked key.
    """
    if customer is None:
        raise Unauthorized(AUTH_REQUIRED)
    return customer


CustomerDep = Annotated[Customer, Depends(get_customer)]

#: The largest ``skip`` (and unbounded ``limit``) a list accepts: both databases
#: bind offsets as signed 64-bit integers, so anything larger would be a 500.
MAX_OFFSET = 2**63 - 1
