"""``/v1/secrets/``: the customer's encrypted secrets and readable variables."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from unitysvc.models import Message, SecretPublic, SecretsPublic, SecretUpdate
from unitysvc_server.api.deps import MAX_OFFSET, CustomerDep, RuntimeDep, SessionDep, SkipQuery
from unitysvc_server.domain import secrets
from unitysvc_server.domain.secrets import NAME_PATTERN

router = APIRouter(prefix="/secrets", tags=["customer-secrets"])

_SHARED = Query(
    description="When true, act on the shared team secret; otherwise on the personal one."
)


@router.get("/")
async def list_secrets(
    session: SessionDep,
    customer: CustomerDep,
    runtime: RuntimeDep,
    skip: SkipQuery = 0,
    limit: Annotated[int | None, Query(ge=1, le=MAX_OFFSET)] = None,
) -> SecretsPublic:
    """List the caller's secrets (values of sensitive ones are never returned)."""
    return await secrets.list_secrets(session, runtime.crypto, customer.id, skip=skip, limit=limit)


@router.get("/{name}")
async def get_secret(
    name: str, session: SessionDep, customer: CustomerDep, runtime: RuntimeDep
) -> SecretPublic:
    """One secret by name (personal shadows shared)."""
    return await secrets.get_secret(session, runtime.crypto, customer.id, name)


@router.put("/{name}")
async def set_secret(
    name: Annotated[str, Path(pattern=NAME_PATTERN)],
    body: SecretUpdate,
    response: Response,
    session: SessionDep,
    customer: CustomerDep,
    runtime: RuntimeDep,
    shared: Annotated[bool, _SHARED] = False,
) -> SecretPublic:
    """Create (201) or update (200) a secret; the value is encrypted at rest."""
    result = await secrets.set_secret(
        session, runtime.crypto, customer.id, name, body, shared=shared
    )
    response.status_code = 201 if result.created else 200
    return result.secret


@router.delete("/{name}")
async def delete_secret(
    name: str,
    session: SessionDep,
    customer: CustomerDep,
    shared: Annotated[bool, _SHARED] = False,
) -> Message:
    """Delete a secret (enrollments referencing it stop resolving it)."""
    await secrets.delete_secret(session, customer.id, name, shared=shared)
    return Message(message=f"secret {name} deleted")
