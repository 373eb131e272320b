"""``/v1/secrets/`` over HTTP against a running platform."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from unitysvc_server.testing import LocalPlatform, run_sync


@pytest.fixture(scope="module")
def platform_options() -> dict[str, Any]:
    return {"demo": False}


def unique_name(prefix: str = "KEY") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10].upper()}"


def test_put_creates_201_then_updates_200(api: httpx.Client) -> None:
    name = unique_name()
    created = api.put(f"/secrets/{name}", json={"value": "one", "description": "how to get it"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == name
    assert body["sensitive"] is True
    assert body["value"] is None
    assert body["owner_type"] == "customer"
    assert body["description"] == "how to get it"
    assert body["updated_at"] is None

    updated = api.put(f"/secrets/{name}", json={"value": "two"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == body["id"]
    assert updated.json()["description"] == "how to get it"  # omitted: kept
    assert updated.json()["updated_at"] is not None

    cleared = api.put(f"/secrets/{name}", json={"value": "three", "description": ""})
    assert cleared.status_code == 200
    assert cleared.json()["description"] is None


def test_get_list_and_delete(api: httpx.Client) -> None:
    name = unique_name()
    assert api.put(f"/secrets/{name}", json={"value": "v"}).status_code == 201

    got = api.get(f"/secrets/{name}")
    assert got.status_code == 200
    assert got.json()["name"] == name and got.json()["value"] is None

    listed = api.get("/secrets/").json()
    assert name in [s["name"] for s in listed["data"]]
    assert listed["count"] >= len(listed["data"]) >= 1
    assert all(s["value"] is None for s in listed["data"] if s["sensitive"])

    deleted = api.delete(f"/secrets/{name}")
    assert deleted.status_code == 200
    assert deleted.json() == {"message": f"secret {name} deleted"}
    assert api.get(f"/secrets/{name}").status_code == 404
    assert api.delete(f"/secrets/{name}").status_code == 404


def test_list_paging(api: httpx.Client) -> None:
    names = sorted(unique_name("PAGE") for _ in range(3))
    for name in names:
        assert api.put(f"/secrets/{name}", json={"value": "x"}).status_code == 201
    everything = api.get("/secrets/").json()
    page = api.get("/secrets/", params={"skip": 1, "limit": 2}).json()
    assert page["count"] == everything["count"]
    assert [s["name"] for s in page["data"]] == [s["name"] for s in everything["data"]][1:3]


def test_variable_returns_its_value(api: httpx.Client) -> None:
    name = unique_name("VAR")
    created = api.put(f"/secrets/{name}", json={"value": "https://x.test", "sensitive": False})
    assert created.status_code == 201
    assert created.json()["value"] == "https://x.test"
    assert api.get(f"/secrets/{name}").json()["value"] == "https://x.test"
    listed = {s["name"]: s for s in api.get("/secrets/").json()["data"]}
    assert listed[name]["value"] == "https://x.test"


def test_kind_cannot_change_in_place(api: httpx.Client) -> None:
    name = unique_name()
    assert api.put(f"/secrets/{name}", json={"value": "v"}).status_code == 201
    flipped = api.put(f"/secrets/{name}", json={"value": "v", "sensitive": False})
    assert flipped.status_code == 409
    assert "cannot change" in flipped.json()["detail"]
    same = api.put(f"/secrets/{name}", json={"value": "w", "sensitive": True})
    assert same.status_code == 200
    assert api.get(f"/secrets/{name}").json()["value"] is None


def test_a_refused_change_of_kind_keeps_the_value_and_description(api: httpx.Client) -> None:
    name = unique_name("VAR")
    body = {"value": "before", "sensitive": False, "description": "kept"}
    assert api.put(f"/secrets/{name}", json=body).status_code == 201
    flipped = api.put(f"/secrets/{name}", json={"value": "after", "sensitive": True})
    assert flipped.status_code == 409, flipped.text
    got = api.get(f"/secrets/{name}").json()
    assert (got["value"], got["description"], got["updated_at"]) == ("before", "kept", None)
    same_kind = api.put(f"/secrets/{name}", json={"value": "after", "sensitive": False})
    assert same_kind.status_code == 200
    assert same_kind.json()["value"] == "after"
    assert same_kind.json()["description"] == "kept"
    assert api.get(f"/secrets/{name}").json()["value"] == "after"


def test_personal_shadows_shared(api: httpx.Client) -> None:
    name = unique_name("TEAM")
    shared = api.put(
        f"/secrets/{name}", params={"shared": "true"}, json={"value": "t", "sensitive": False}
    )
    assert shared.status_code == 201
    assert shared.json()["owner_id"] is None
    assert api.get(f"/secrets/{name}").json()["value"] == "t"

    personal = api.put(f"/secrets/{name}", json={"value": "p", "sensitive": False})
    assert personal.status_code == 201
    assert api.get(f"/secrets/{name}").json()["value"] == "p"
    assert [s["name"] for s in api.get("/secrets/").json()["data"]].count(name) == 1

    assert api.delete(f"/secrets/{name}").status_code == 200
    assert api.get(f"/secrets/{name}").json()["value"] == "t"
    assert api.delete(f"/secrets/{name}", params={"shared": "true"}).status_code == 200
    assert api.get(f"/secrets/{name}").status_code == 404


@pytest.mark.parametrize("name", ["lower", "1STARTS_WITH_DIGIT", "HAS-DASH", "SPACE%20X"])
def test_name_rule_is_422_naming_the_rule(api: httpx.Client, name: str) -> None:
    response = api.put(f"/secrets/{name}", json={"value": "v"})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["path", "name"]
    assert "^[A-Z_][A-Z0-9_]*$" in item["msg"]


def test_name_longer_than_100_is_422(api: httpx.Client) -> None:
    response = api.put(f"/secrets/{'A' * 101}", json={"value": "v"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "name"]
    assert api.put(f"/secrets/{'A' * 100}", json={"value": "v"}).status_code in (200, 201)


def test_value_limits(api: httpx.Client) -> None:
    secret_value = "Z" * 4001
    too_long = api.put(f"/secrets/{unique_name()}", json={"value": secret_value})
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["body", "value"]
    assert secret_value not in too_long.text  # never echo a rejected value
    assert api.put(f"/secrets/{unique_name()}", json={"value": ""}).status_code == 201
    missing = api.put(f"/secrets/{unique_name()}", json={})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "value"]


def test_isolation_between_customers(api: httpx.Client, other_api: httpx.Client) -> None:
    name = unique_name("MINE")
    assert (
        api.put(f"/secrets/{name}", json={"value": "mine", "sensitive": False}).status_code == 201
    )
    assert other_api.get(f"/secrets/{name}").status_code == 404
    assert name not in [s["name"] for s in other_api.get("/secrets/").json()["data"]]
    assert other_api.delete(f"/secrets/{name}").status_code == 404
    # The other customer's own secret of the same name is a separate row.
    assert (
        other_api.put(f"/secrets/{name}", json={"value": "theirs", "sensitive": False}).status_code
        == 201
    )
    assert api.get(f"/secrets/{name}").json()["value"] == "mine"
    assert other_api.get(f"/secrets/{name}").json()["value"] == "theirs"


def test_secret_value_is_not_stored_in_clear(platform: LocalPlatform, api: httpx.Client) -> None:
    value = f"clear-text-{uuid.uuid4().hex}"
    for sensitive in (True, False):
        name = unique_name("ATREST")
        response = api.put(f"/secrets/{name}", json={"value": value, "sensitive": sensitive})
        assert response.status_code == 201

    async def stored_rows() -> list[str]:
        engine = create_async_engine(platform.database_url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT * FROM secrets"))).all()
                return [repr(tuple(row)) for row in rows]
        finally:
            await engine.dispose()

    rows = run_sync(stored_rows())
    assert rows and not any(value in row for row in rows)
    if platform.settings.is_sqlite:
        # The database file and its write-ahead log, byte for byte.
        files = [p for p in platform.data_dir.glob("unitysvc.db*") if p.is_file()]
        assert files
        for path in files:
            assert value.encode() not in path.read_bytes(), path.name


def test_secret_values_are_never_logged(
    api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    # The platform runs in this process (thread mode): its log records land here.
    value = f"never-logged-{uuid.uuid4().hex}"
    name = unique_name("LOGGED")
    with caplog.at_level(logging.DEBUG):
        assert api.put(f"/secrets/{name}", json={"value": value}).status_code == 201
        assert (
            api.put(f"/secrets/{name}", json={"value": value, "sensitive": False}).status_code
            == 409
        )
        read = api.get(f"/secrets/{name}")
        assert read.status_code == 200 and read.json()["value"] is None
        wrong_type = api.put(f"/secrets/{name}", json={"value": [value]})
        assert wrong_type.status_code == 422 and value not in wrong_type.text
        bad_name = api.put("/secrets/bad-name", json={"value": value})
        assert bad_name.status_code == 422 and value not in bad_name.text
        malformed = api.put(
            f"/secrets/{name}",
            content=b'{"value": "' + value.encode() + b'",',
            headers={"content-type": "application/json"},
        )
        assert malformed.status_code == 400 and value not in malformed.text
        listed = api.get("/secrets/")
        assert value not in listed.text
    assert caplog.records  # DEBUG records of client, server and database driver
    assert value not in caplog.text
