"""``usvc server keys create|list|revoke`` (Typer runner) against a real database."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from unitysvc_server.cli import server_app
from unitysvc_server.crypto import hash_api_key
from unitysvc_server.testing import TEST_DATABASE_ENV, LocalPlatform, fresh_postgres_database


@pytest.fixture
def location(tmp_path: Path) -> Iterator[list[str]]:
    """CLI arguments naming the database (PostgreSQL when the suite runs on it)."""
    args = ["--data-dir", str(tmp_path / "data")]
    server = os.environ.get(TEST_DATABASE_ENV, "")
    if server.startswith("postgresql"):
        with fresh_postgres_database(server) as url:
            yield [*args, "--database-url", url]
    else:
        yield args


def run(*args: str) -> Result:
    return CliRunner().invoke(server_app, list(args), env={"UNITYSVC_DATA_DIR": None})


def database_url_of(location: list[str]) -> str | None:
    return location[location.index("--database-url") + 1] if "--database-url" in location else None


def test_create_prints_the_key_once_and_stores_only_its_hash(location: list[str]) -> None:
    created = run("keys", "create", "--name", "alice", *location)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("svcpass_") and len(key) > 40
    assert "cannot be shown again" in created.stderr

    listed = run("keys", "list", "--json", *location)
    assert listed.exit_code == 0
    (row,) = json.loads(listed.stdout)
    assert row["customer"] == "alice" and row["revoked_at"] is None
    assert key.startswith(row["hint"]) and len(row["hint"]) < len(key)
    assert key not in listed.stdout

    if database_url_of(location) is None:
        db_bytes = b"".join(
            p.read_bytes() for p in Path(location[1]).glob("unitysvc.db*") if p.is_file()
        )
        assert key.encode() not in db_bytes
        assert hash_api_key(key).encode() in db_bytes


def test_keys_work_against_a_running_server_and_revoke_takes_effect(
    location: list[str],
) -> None:
    key = run("keys", "create", "--name", "bob", *location).stdout.strip()
    with LocalPlatform(
        data_dir=Path(location[1]), database_url=database_url_of(location)
    ) as platform:
        url = f"{platform.api_url}/secrets/"
        headers = {"Authorization": f"Bearer {key}"}
        assert httpx.get(url, headers=headers).status_code == 200

        # A key created while the server runs works at once, too.
        second = run("keys", "create", "--name", "bob", *location).stdout.strip()
        assert httpx.get(url, headers={"Authorization": f"Bearer {second}"}).status_code == 200

        hint = key[:12]
        revoked = run("keys", "revoke", hint + "…", *location)
        assert revoked.exit_code == 0, revoked.output
        assert "Revoked 1 key" in revoked.stdout
        assert httpx.get(url, headers=headers).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {second}"}).status_code == 200

        all_of_bob = run("keys", "revoke", "--name", "bob", *location)
        assert "Revoked 1 key" in all_of_bob.stdout
        assert httpx.get(url, headers={"Authorization": f"Bearer {second}"}).status_code == 401

    table = run("keys", "list", *location)
    assert table.stdout.count("revoked") == 2


def test_list_when_empty_and_errors(location: list[str]) -> None:
    empty = run("keys", "list", *location)
    assert empty.exit_code == 0 and "No keys" in empty.stdout

    unknown = run("keys", "revoke", "--name", "nobody", *location)
    assert unknown.exit_code == 2
    assert "not found" in unknown.stderr

    both = run("keys", "revoke", "svcpass_x", "--name", "x", *location)
    assert both.exit_code == 2

    blank = run("keys", "create", "--name", "  ", *location)
    assert blank.exit_code == 2
    assert "1-100 characters" in blank.stderr


def test_bad_settings_are_reported_naming_the_field(tmp_path: Path) -> None:
    result = run("keys", "list", "--data-dir", str(tmp_path), "--database-url", "mysql://x")
    assert result.exit_code == 2
    assert "database_url" in result.stderr
