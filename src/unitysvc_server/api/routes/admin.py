"""``/v1/admin/``: the operator's API — revoke keys, delete customers, list keys.

Off unless the server has an admin token (``--admin-token`` / ``UNITYSVC_ADMIN_TOKEN``);
every call then needs ``Authorization: Bearer <admin token>``. Not part of the customer
contract, so not in the OpenAPI document. A revocation or deletion answers only once
every server process sharing the database has dropped what it cached for the key or
customer (see :mod:`unitysvc_server.invalidation`): the next request with a revoked key,
on any server, is a 401.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, Field, model_validator

from unitysvc_server.api.deps import RuntimeDep, SessionDep
from unitysvc_server.asgi_io import parse_bearer
from unitysvc_server.domain import customers
from unitysvc_server.domain.errors import Forbidden, Unauthorized

router = APIRouter(prefix="/admin", tags=["admin"], include_in_schema=False)


async def require_admin(
    runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Let the request through only with the server's admin token.

    Raises:
        Forbidden: The server has no admin token (the admin API is off).
        Unauthorized: No token, or a different one.
    """
    expected = runtime.settings.admin_token
    if not expected:
        raise Forbidden(
            "the admin API is off: start the server with --admin-token "
            "(or UNITYSVC_ADMIN_TOKEN) to use it"
        )
    given = parse_bearer(authorization or "")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("admin token required: send 'Authorization: Bearer <admin token>'")


AdminDep = Depends(require_admin)


class RevokeKeys(BaseModel):
    """Which keys to revoke: one key (in full or its listed hint), or a customer's all."""

    key: str | None = Field(default=None, description="A key, or its hint from the list.")
    customer: str | None = Field(default=None, description="Revoke every key of this customer.")

    @model_validator(mode="after")
    def _one_of(self) -> RevokeKeys:
        if (self.key is None) == (self.customer is None):
            raise ValueError("give exactly one of 'key' and 'customer'")
        return self


class RevokedKeys(BaseModel):
    """How many live keys were revoked."""

    revoked: int


class DeletedCustomer(BaseModel):
    """A deleted customer and what went with it."""

    id: uuid.UUID
    name: str
    rows: dict[str, int]
    objects: int


class KeyListing(BaseModel):
    """One key as the operator sees it (never the key itself)."""

    hint: str
    customer: str
    customer_id: uuid.UUID
    created_at: datetime
    revoked_at: datetime | None


@router.get("/keys", dependencies=[AdminDep])
async def list_keys(session: SessionDep) -> list[KeyListing]:
    """Every key, live and revoked, oldest first."""
    return [
        KeyListing(
            hint=info.hint,
            customer=info.customer_name,
            customer_id=info.customer_id,
            created_at=info.created_at,
            revoked_at=info.revoked_at,
        )
        for info in await customers.list_keys(session)
    ]


@router.post("/keys/revoke", dependencies=[AdminDep])
async def revoke_keys(body: RevokeKeys, session: SessionDep) -> RevokedKeys:
    """Revoke one key or all of a customer's; refused everywhere once this answers."""
    count = await customers.revoke(session, key=body.key, name=body.customer)
    return RevokedKeys(revoked=count)


@router.delete("/customers/{name}", dependencies=[AdminDep])
async def delete_customer(name: str, runtime: RuntimeDep) -> DeletedCustomer:
    """Delete a customer with its keys, every row it owns and its stored objects."""
    async with runtime.transaction() as session:
        deleted = await customers.delete_customer(session, name)
    objects = customers.remove_customer_objects(runtime.objects, deleted.id)
    return DeletedCustomer(id=deleted.id, name=deleted.name, rows=deleted.rows, objects=objects)
