"""Customer secrets and variables (CONTRACT §1.7 "Secrets").

Values are Fernet-encrypted before they reach the database and decrypted only
for non-sensitive variables on read and for the gateway at routing time.
A personal row shadows the shared row of the same name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from pydantic import BaseModel

from unitysvc._constants import SECRET_NAME_PATTERN
from unitysvc.models import SecretPublic, SecretsPublic, SecretUpdate
from unitysvc_server.clock import utcnow
from unitysvc_server.crypto import SecretBox
from unitysvc_server.domain.errors import Conflict, NotFound, Unprocessable
from unitysvc_server.storage.errors import Duplicate
from unitysvc_server.storage.queries import secrets as queries
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.secrets import SecretRow

# The SDK checks names before sending; both sides share its one rule.
NAME_PATTERN = SECRET_NAME_PATTERN.pattern
_NAME = SECRET_NAME_PATTERN
MAX_NAME_LENGTH = 100
LAST_USED_RESOLUTION = timedelta(minutes=1)


def check_name(name: str) -> str:
    """Validate a secret name.

    Raises:
        Unprocessable: The name breaks the pattern or the length limit.
    """
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise Unprocessable(
            ("path", "name"), f"must be 1-{MAX_NAME_LENGTH} characters", "string_length"
        )
    if not _NAME.match(name):
        raise Unprocessable(
            ("path", "name"),
            f"must match {NAME_PATTERN}: uppercase letters, digits and underscores, "
            "not starting with a digit (e.g. OPENAI_API_KEY)",
            "string_pattern_mismatch",
        )
    return name


class ListedSecret(Protocol):
    """What a list reads of a secret: a :class:`SecretRow`, or a Core row of its columns."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def shared(self) -> bool: ...
    @property
    def sensitive(self) -> bool: ...
    @property
    def value_encrypted(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime | None: ...
    @property
    def last_used_at(self) -> datetime | None: ...


class SecretFields(ListedSecret, Protocol):
    """What :func:`to_public` reads: a :class:`SecretRow`, or a Core row of its table."""

    @property
    def customer_id(self) -> uuid.UUID: ...


_Model = TypeVar("_Model", bound=BaseModel)


def _trusted(cls: type[_Model], values: dict[str, Any]) -> _Model:
    """``cls.model_construct(**values)`` for values naming every field, minus its cost.

    ``model_construct`` looks every field up under its aliases before taking it from
    ``values``: for a list of fifty secrets that was a third of the request's CPU. The
    models built here have no aliases, private attributes or post-init hook (checked
    below, at import), so the instance is exactly the one ``model_construct`` makes.
    """
    extra = _EXTRA[cls]
    if len(values) != extra[1]:  # a field left to its default: model_construct sets it
        return cls.model_construct(**values)
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", set(values))
    object.__setattr__(model, "__pydantic_extra__", {} if extra[0] else None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


def _plain(cls: type[BaseModel]) -> tuple[bool, int]:
    """Whether ``cls`` keeps extra fields, and its number of fields (it fits :func:`_trusted`)."""
    fields = cls.model_fields.values()
    if any(f.alias is not None or f.validation_alias is not None for f in fields):
        raise TypeError(f"{cls.__name__} has aliases: build it with model_construct")
    if cls.__pydantic_post_init__ or cls.__private_attributes__ or cls.__pydantic_root_model__:
        raise TypeError(f"{cls.__name__} has hooks: build it with model_construct")
    return cls.model_config.get("extra") == "allow", len(cls.model_fields)


_EXTRA: dict[type[BaseModel], tuple[bool, int]] = {
    cls: _plain(cls) for cls in (SecretPublic, SecretsPublic)
}


def to_public(row: SecretFields, crypto: SecretBox) -> SecretPublic:
    """The wire form of ``row``; ``value`` only for non-sensitive variables."""
    return _public(row, crypto, row.customer_id)


def _public(row: ListedSecret, crypto: SecretBox, customer_id: uuid.UUID) -> SecretPublic:
    # Built without validation: every value comes from a row validated on write, and
    # a list validated each of its rows again (a fifth of its CPU).
    return _trusted(
        SecretPublic,
        {
            "name": row.name,
            "description": row.description,
            "id": row.id,
            "owner_type": "customer",
            "role_id": None,
            "owner_id": None if row.shared else customer_id,
            "sensitive": row.sensitive,
            "value": None if row.sensitive else crypto.decrypt(row.value_encrypted),
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "last_used_at": row.last_used_at,
        },
    )


async def list_secrets(
    session: Session,
    crypto: SecretBox,
    customer_id: uuid.UUID,
    *,
    skip: int = 0,
    limit: int | None = None,
) -> SecretsPublic:
    """The caller's effective secrets by name; ``count`` is the total before paging."""
    # Ordered by (name, shared): the personal row (shared=False) comes first.
    effective: dict[str, ListedSecret] = {}
    for row in await queries.listed_rows(session, customer_id):
        effective.setdefault(row.name, cast(ListedSecret, row))
    rows = list(effective.values())
    page = rows[skip:] if limit is None else rows[skip : skip + limit]
    return _trusted(
        SecretsPublic,
        {"data": [_public(r, crypto, customer_id) for r in page], "count": len(rows)},
    )


async def get_secret(
    session: Session, crypto: SecretBox, customer_id: uuid.UUID, name: str
) -> SecretPublic:
    """The effective secret ``name`` (personal shadows shared).

    Raises:
        NotFound: The caller has no secret of that name.
    """
    row = await queries.row(session, customer_id, name, False) or await queries.row(
        session, customer_id, name, True
    )
    if row is None:
        raise NotFound(f"secret {name!r} not found")
    return to_public(row, crypto)


@dataclass(frozen=True)
class SetResult:
    """Outcome of :func:`set_secret`."""

    secret: SecretPublic
    created: bool


async def set_secret(
    session: Session,
    crypto: SecretBox,
    customer_id: uuid.UUID,
    name: str,
    body: SecretUpdate,
    *,
    shared: bool = False,
) -> SetResult:
    """Insert or update the secret ``name``.

    ``sensitive`` defaults to true on insert. On update it may be omitted (the
    kind is kept) or repeated; changing it is a 409, because turning a
    write-only secret into a readable variable would disclose its value.
    ``description`` is kept when omitted and cleared by ``""``.

    Raises:
        Unprocessable: Bad name.
        Conflict: An attempt to change the kind of an existing row.
    """
    check_name(name)
    description = body.description
    encrypted = crypto.encrypt(body.value)
    now = utcnow()
    kept_or_new = queries.UNCHANGED if description is None else description or None
    # The common case, an update of an existing name, is one statement: on SQLite the
    # write lock is held for that statement and the commit, not for a read, a wait
    # on the event loop and then the update. It changes nothing when the name is new
    # or of the other kind; the locked read below tells which.
    updated = await queries.updated_listed_row(
        session,
        customer_id,
        name,
        shared,
        encrypted,
        now,
        description=kept_or_new,
        sensitive=body.sensitive,
    )
    if updated is not None:
        return SetResult(_updated_public(updated, body.value, shared, customer_id), created=False)
    # Core rows and a Core UPDATE: the ORM's loading and flush of one row cost more
    # than the statements themselves.
    found = await queries.listed_row_for_update(session, customer_id, name, shared)
    if found is None:
        row = SecretRow(
            customer_id=customer_id,
            name=name,
            shared=shared,
            value_encrypted=encrypted,
            sensitive=True if body.sensitive is None else body.sensitive,
            description=description or None,
        )
        try:
            async with session.begin_nested():
                await queries.insert(session, row)
        except Duplicate:
            # A concurrent PUT inserted the name first (PostgreSQL: no row to lock
            # yet): this one is an update of it.
            found = await queries.listed_row_for_update(session, customer_id, name, shared)
            if found is None:
                # Inserted and deleted again meanwhile: the API's answer to an
                # unanticipated unique violation.
                raise Conflict("the request conflicts with existing data") from None
        else:
            return SetResult(to_public(row, crypto), created=True)
    current = found
    if body.sensitive is not None and body.sensitive != current.sensitive:
        kind = "secret" if current.sensitive else "variable"
        raise Conflict(
            f"{name} is a {kind}; its kind cannot change in place. "
            "Delete it and create it again with the other 'sensitive' value"
        )
    await queries.update_value(session, customer_id, current.id, encrypted, now, kept_or_new)
    kept = current.description if body.description is None else description or None
    after = current._replace(description=kept, updated_at=now)
    return SetResult(_updated_public(after, body.value, shared, customer_id), created=False)


def _updated_public(
    row: queries.ListedRow, value: str, shared: bool, customer_id: uuid.UUID
) -> SecretPublic:
    """The answer to an update that set ``row``'s value to ``value``."""
    return _trusted(
        SecretPublic,
        {
            "name": row.name,
            "description": row.description,
            "id": row.id,
            "owner_type": "customer",
            "role_id": None,
            "owner_id": None if shared else customer_id,
            "sensitive": row.sensitive,
            "value": None if row.sensitive else value,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "last_used_at": row.last_used_at,
        },
    )


async def delete_secret(
    session: Session, customer_id: uuid.UUID, name: str, *, shared: bool = False
) -> None:
    """Delete the personal (or, with ``shared``, the shared) secret ``name``.

    Raises:
        NotFound: No such row.
    """
    row = await queries.row(session, customer_id, name, shared)
    if row is None:
        raise NotFound(f"{'shared ' if shared else ''}secret {name!r} not found")
    await queries.delete(session, row)


def is_use_stale(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a use at ``now`` should be written to ``last_used_at``.

    Coarse on purpose: a write per gateway request would serialise traffic on SQLite's
    single writer for a timestamp nobody needs to the second.
    """
    return last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION


async def mark_secret_used(session: Session, secret_id: uuid.UUID, now: datetime) -> None:
    """Record a use of the secret row ``secret_id`` (see :func:`is_use_stale`)."""
    row = await queries.by_id(session, secret_id)
    if row is not None and is_use_stale(row.last_used_at, now):
        row.last_used_at = now
        await queries.flush(session)
