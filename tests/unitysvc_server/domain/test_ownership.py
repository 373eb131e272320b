"""``get_owned``: a customer's own row, or 404 -- never another customer's row."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from unitysvc_server.domain import customers
from unitysvc_server.domain.errors import NotFound
from unitysvc_server.domain.ownership import get_owned
from unitysvc_server.storage.db import create_engine, make_sessionmaker, migrate
from unitysvc_server.storage.tables.secrets import SecretRow


async def test_get_owned_isolates_customers(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}")
    try:
        await migrate(engine)
        async with make_sessionmaker(engine)() as session, session.begin():
            alice, _ = await customers.create_key(session, "alice")
            bob, _ = await customers.create_key(session, "bob")
            row = SecretRow(customer_id=alice.id, name="A", value_encrypted="token")
            session.add(row)
            await session.flush()

            assert await get_owned(session, SecretRow, row.id, alice.id) is row
            with pytest.raises(NotFound, match=f"^secret {row.id} not found$"):
                await get_owned(session, SecretRow, row.id, bob.id, what="secret")
            with pytest.raises(NotFound, match="not found"):
                await get_owned(session, SecretRow, uuid.uuid4(), alice.id)
    finally:
        await engine.dispose()
