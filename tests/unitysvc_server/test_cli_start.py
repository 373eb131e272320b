"""``usvc server start`` as users run it: a subprocess through the ``usvc`` entry point.

Catalogs (``--catalog`` repeated), ``--groups``, the storage it creates (a WAL
SQLite file migrated to head, or ``--database-url`` PostgreSQL when the suite
runs on it), keys issued with ``usvc server keys create``, and a clean stop on
Ctrl-C (SIGINT).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from unitysvc_server.storage.db import MIGRATIONS_DIR
from unitysvc_server.testing import TEST_DATABASE_ENV, fresh_postgres_database, run_sync

GROQ = Path(__file__).parent / "data" / "catalogs" / "groq"
USVC = Path(sys.executable).with_name("usvc")

GROUPS = """
[[group]]
name = "acme-only"
display_name = "Acme"
routing_policy = { name = "by_price" }

[group.match]
provider_name = "acme"
"""


def _write(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _acme_catalog(root: Path) -> Path:
    """A one-service seller catalog in the platform's data format."""
    _write(
        root / "provider.json",
        {
            "name": "acme",
            "contact_email": "ops@acme.example",
            "homepage": "https://acme.example/",
            "time_created": "2026-01-01T00:00:00Z",
        },
    )
    _write(
        root / "services/widget/offering.json",
        {
            "name": "widget",
            "summary": "s",
            "description": "d",
            "time_created": "2026-01-01T00:00:00Z",
            "upstream_access_config": {"managed": {"base_url": "https://up.acme.example"}},
        },
    )
    _write(
        root / "services/widget/listing.json",
        {
            "name": "acme/widget",
            "status": "ready",
            "time_created": "2026-02-01T00:00:00Z",
            "user_access_interfaces": {
                "canonical": {"base_url": "${API_GATEWAY_BASE_URL}/{{ service_name }}"}
            },
        },
    )
    return root


@pytest.fixture
def database_args() -> Iterator[list[str]]:
    """``--database-url`` of a fresh PostgreSQL database when the suite runs on it."""
    server = os.environ.get(TEST_DATABASE_ENV, "")
    if server.startswith("postgresql"):
        with fresh_postgres_database(server) as url:
            yield ["--database-url", url]
    else:
        yield []


def _wait_healthy(gateway_url: str) -> None:
    deadline = time.monotonic() + 60
    # One client for the whole wait: a new one per poll (its TLS context) costs more CPU
    # than the poll, taken from the server that is starting.
    with httpx.Client() as http:
        while True:
            try:
                if http.get(f"{gateway_url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become healthy"
            time.sleep(0.05)


async def _alembic_version(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_usvc_server_start_with_catalogs_groups_keys_and_ctrl_c(
    tmp_path: Path, database_args: list[str]
) -> None:
    data = tmp_path / "data"
    groups = tmp_path / "groups.toml"
    groups.write_text(GROUPS)
    acme = _acme_catalog(tmp_path / "acme")
    location = ["--data-dir", str(data), *database_args]
    proc = subprocess.Popen(
        [str(USVC), "server", "start", "--port", "0", *location,
         "--catalog", str(GROQ), "--catalog", str(acme), "--groups", str(groups)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "UNITYSVC_SECRET_KEY": ""},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        api_url = next(line for line in lines if "API:" in line).split("API:", 1)[1].strip()
        gateway_url = next(line for line in lines if "Gateway:" in line).split(":", 1)[1].strip()
        assert api_url == f"{gateway_url}/v1" and gateway_url.startswith("http://127.0.0.1:")
        _wait_healthy(gateway_url)

        # Both catalogs are served; the groups file added its group.
        groups_page = httpx.get(f"{api_url}/groups").json()["data"]
        counts = {g["name"]: g["member_count"] for g in groups_page}
        assert counts == {"all_services": 17, "acme-only": 1}
        acme_only = httpx.get(f"{api_url}/groups/acme-only/services").json()["data"]
        assert [s["name"] for s in acme_only] == ["acme/widget"]

        # A key issued by the CLI (same data dir / database) works at once.
        issued = subprocess.run(
            [str(USVC), "server", "keys", "create", "--name", "cli-user", *location],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert issued.returncode == 0, issued.stderr
        key = issued.stdout.strip()
        assert key.startswith("svcpass_")
        mine = httpx.get(f"{api_url}/secrets/", headers={"Authorization": f"Bearer {key}"})
        assert mine.status_code == 200

        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None
        errors = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert "Traceback" not in errors and " ERROR " not in errors
    # The groq catalog's incomplete services are named in ONE warning line.
    incomplete = sorted(
        p.name for p in (GROQ / "services").iterdir() if not (p / "offering.json").exists()
    )
    skipped = [line for line in errors.splitlines() if "incomplete service" in line]
    assert len(skipped) == 1 and all(name in skipped[0] for name in incomplete)

    # Storage: migrated to the newest revision at start; SQLite is a WAL file.
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if database_args:
        assert run_sync(_alembic_version(database_args[1])) == [head]
    else:
        database = data / "unitysvc.db"
        with contextlib.closing(sqlite3.connect(database)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
