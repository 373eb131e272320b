"""Queries of customer secrets (``domain.secrets``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, select, update

from unitysvc_server.invalidation import Invalidation
from unitysvc_server.storage.errors import unique
from unitysvc_server.storage.session import Session
from unitysvc_server.storage.tables.secrets import SecretRow

__all__ = [
    "ListedRow",
    "by_id",
    "delete",
    "flush",
    "insert",
    "listed_row_for_update",
    "listed_rows",
    "row",
    "update_value",
    "updated_listed_row",
]


class Unchanged:
    """The type of :data:`UNCHANGED`."""


#: A column an update leaves as it is.
UNCHANGED = Unchanged()

# Statements are built once, with bound parameters: building one per request (its
# comparisons, then its cache key) cost about as much CPU as running it.
_table = cast(Table, SecretRow.__table__)
#: What a list shows of a row (the owner is the customer listed).
_LISTED = (
    select(
        _table.c.id,
        _table.c.name,
        _table.c.description,
        _table.c.shared,
        _table.c.sensitive,
        _table.c.value_encrypted,
        _table.c.created_at,
        _table.c.updated_at,
        _table.c.last_used_at,
    )
    .where(_table.c.customer_id == bindparam("customer_id"))
    .order_by(_table.c.name, _table.c.shared)
)
_LISTED_ROW_LOCKED = _LISTED.where(
    _table.c.name == bindparam("name"), _table.c.shared == bindparam("shared")
).with_for_update()
_SET_VALUE = (
    update(_table)
    .where(_table.c.id == bindparam("secret_id"))
    .values(value_encrypted=bindparam("new_value"), updated_at=bindparam("now"))
)
_SET_VALUE_AND_DESCRIPTION = _SET_VALUE.values(description=bindparam("new_description"))
_LISTED_COLUMNS = _LISTED.selected_columns
#: ``(description given, kind given)``: the update of a row found by its name, answering
#: its listed columns.
_UPDATE_NAMED: dict[tuple[bool, bool], Any] = {}
for _with_description in (False, True):
    for _with_kind in (False, True):
        # Parameters named unlike the columns: an UPDATE reserves the column names
        # for the values it sets.
        _named = update(_table).where(
            _table.c.customer_id == bindparam("owner"),
            _table.c.name == bindparam("secret_name"),
            _table.c.shared == bindparam("is_shared"),
        )
        if _with_kind:
            _named = _named.where(_table.c.sensitive == bindparam("kind"))
        _named = _named.values(value_encrypted=bindparam("new_value"), updated_at=bindparam("now"))
        if _with_description:
            _named = _named.values(description=bindparam("new_description"))
        _UPDATE_NAMED[_with_description, _with_kind] = _named.returning(*_LISTED_COLUMNS)
_ROW = select(SecretRow).where(
    SecretRow.customer_id == bindparam("customer_id"),
    SecretRow.name == bindparam("name"),
    SecretRow.shared == bindparam("shared"),
)
# PostgreSQL locks the row; on SQLite the write transaction starts here.
_ROW_LOCKED = _ROW.with_for_update()


class ListedRow(NamedTuple):
    """What a list shows of a secret (the columns of ``_LISTED``, in order).

    A named tuple, not SQLAlchemy's ``Row``: a ``Row`` finds a column by name only after
    Python's own attribute lookup failed and formatted its ``AttributeError`` message,
    which was a quarter of the CPU of listing fifty secrets; a named tuple's fields
    are read by index.
    """

    id: uuid.UUID
    name: str
    description: str | None
    shared: bool
    sensitive: bool
    value_encrypted: str
    created_at: datetime
    updated_at: datetime | None
    last_used_at: datetime | None


async def listed_rows(session: Session, customer_id: uuid.UUID) -> list[ListedRow]:
    """The customer's secrets by ``(name, shared)``: personal before shared."""
    # Core rows: a list builds no ORM objects (about a third of its CPU).
    result = await session.execute(_LISTED, {"customer_id": customer_id})
    return list(map(ListedRow._make, result))


async def listed_row_for_update(
    session: Session, customer_id: uuid.UUID, name: str, shared: bool
) -> ListedRow | None:
    """The :func:`listed_rows` columns of the customer's row ``name``, locked for update."""
    params = {"customer_id": customer_id, "name": name, "shared": shared}
    row = (await session.execute(_LISTED_ROW_LOCKED, params)).one_or_none()
    return None if row is None else ListedRow._make(row)


async def update_value(
    session: Session,
    customer_id: uuid.UUID,
    secret_id: uuid.UUID,
    value_encrypted: str,
    now: datetime,
    description: str | None | Unchanged = UNCHANGED,
) -> None:
    """Set the row's value (and description), updated at ``now``; caches of the customer
    drop it once the transaction commits."""
    params: dict[str, Any] = {"secret_id": secret_id, "new_value": value_encrypted, "now": now}
    statement = _SET_VALUE
    if not isinstance(description, Unchanged):
        params["new_description"] = description
        statement = _SET_VALUE_AND_DESCRIPTION
    options = {"invalidates": [Invalidation.customer(customer_id)]}
    await session.execute(statement, params, execution_options=options)


async def updated_listed_row(
    session: Session,
    customer_id: uuid.UUID,
    name: str,
    shared: bool,
    value_encrypted: str,
    now: datetime,
    *,
    description: str | None | Unchanged = UNCHANGED,
    sensitive: bool | None = None,
) -> ListedRow | None:
    """Set the value (and description) of the customer's row ``name``, in one statement.

    Only a row of kind ``sensitive`` (any kind when ``None``) is changed. Returns the
    row's :func:`listed_rows` columns after the update, or ``None`` when no row was
    changed (there is none of that name and kind): nothing was written then. Caches of
    the customer drop the row once the transaction commits.
    """
    params: dict[str, Any] = {
        "owner": customer_id,
        "secret_name": name,
        "is_shared": shared,
        "new_value": value_encrypted,
        "now": now,
    }
    if not isinstance(description, Unchanged):
        params["new_description"] = description
    if sensitive is not None:
        params["kind"] = sensitive
    statement = _UPDATE_NAMED[not isinstance(description, Unchanged), sensitive is not None]
    options = {"invalidates": [Invalidation.customer(customer_id)]}
    result = await session.execute(statement, params, execution_options=options)
    found = result.one_or_none()
    return None if found is None else ListedRow._make(found)


async def row(
    session: Session, customer_id: uuid.UUID, name: str, shared: bool, *, lock: bool = False
) -> SecretRow | None:
    """The customer's personal (or shared) row ``name``; ``lock`` selects it for update."""
    params = {"customer_id": customer_id, "name": name, "shared": shared}
    result = await session.execute(_ROW_LOCKED if lock else _ROW, params)
    return result.scalar_one_or_none()


async def by_id(session: Session, secret_id: uuid.UUID) -> SecretRow | None:
    """The row ``secret_id`` (from the session's identity map when loaded)."""
    return await session.get(SecretRow, secret_id)


async def insert(session: Session, new: SecretRow) -> None:
    """Insert ``new`` now.

    Raises:
        Duplicate: A row of that customer, name and sharing exists.
    """
    session.add(new)
    with unique():
        await session.flush()


async def flush(session: Session) -> None:
    """Write the changed attributes of loaded rows now."""
    await session.flush()


async def delete(session: Session, old: SecretRow) -> None:
    """Delete the loaded row ``old`` now."""
    await session.delete(old)
    await session.flush()
