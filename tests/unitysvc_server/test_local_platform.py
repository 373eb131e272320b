"""``LocalPlatform``, the pytest plugin and ``python -m unitysvc_server start``."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from unitysvc_server.testing import LocalPlatform, migrated_template

GROQ = Path(__file__).parent / "data" / "catalogs" / "groq"


def test_thread_mode_starts_serves_and_cleans_up() -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    with LocalPlatform() as platform:
        data_dir = platform.data_dir
        assert platform.api_url == f"{platform.gateway_url}/v1"
        assert platform.gateway_url.startswith("http://127.0.0.1:")
        key = platform.create_customer("lifecycle")
        with platform.http(key) as api:
            assert api.get("/secrets/").status_code == 200
        assert platform.app.runtime.settings.secret_key  # resolved, never None
        assert data_dir.is_dir()
    assert not data_dir.exists()  # a temporary data dir is removed
    deadline = time.monotonic() + 5
    while {t.ident for t in threading.enumerate()} - threads_before:
        assert time.monotonic() < deadline, [t.name for t in threading.enumerate()]
        time.sleep(0.01)


def test_start_failure_is_reported_not_hung(tmp_path: Path) -> None:
    unreachable = "postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"  # discard port: refused
    platform = LocalPlatform(data_dir=tmp_path, database_url=unreachable)
    with pytest.raises(RuntimeError, match="failed to start"):
        platform.start()
    platform.close()  # idempotent after a failed start


def test_sdk_clients_point_at_the_platform() -> None:
    with LocalPlatform() as platform:
        key = platform.create_customer("sdk")
        with platform.client(key) as client:
            client.secrets.set("FROM_SDK", "v")
            assert [s.name for s in client.secrets.list().data] == ["FROM_SDK"]


def test_cli_start_prints_urls_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "unitysvc_server", "start", "--port", "0",
         "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "UNITYSVC_SECRET_KEY": ""},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        api_line = next(line for line in lines if "API:" in line)
        api_url = api_line.split("API:", 1)[1].strip()
        assert api_url.startswith("http://127.0.0.1:") and api_url.endswith("/v1")
        gateway_url = api_url.removesuffix("/v1")
        assert any(f"Gateway: {gateway_url}" in line for line in lines)
        deadline = time.monotonic() + 30
        with httpx.Client() as http:  # one for the whole wait (see test_cli_start)
            while True:
                try:
                    if http.get(f"{gateway_url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None
        errors = proc.stderr.read()
        assert "Traceback" not in errors and "ERROR" not in errors
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.slow
def test_pytest_plugin_fixtures(tmp_path: Path) -> None:
    test_file = tmp_path / "test_user_suite.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import httpx

            def test_uses_the_platform(unitysvc_platform, unitysvc_customer, unitysvc_api_key):
                key = unitysvc_customer("alice")
                assert key.startswith("svcpass_") and key != unitysvc_api_key
                headers = {"Authorization": f"Bearer {key}"}
                response = httpx.get(f"{unitysvc_platform.api_url}/secrets/", headers=headers)
                assert response.status_code == 200
            """
        )
    )
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)),
            # Plugins the dev extra brings along and this test does not use (as in
            # pyproject.toml's addopts): each costs the child ~0.5 s of imports.
            *("-p", "no:schemathesis", "-p", "no:anyio", "-p", "no:typeguard"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


class _Upstream(http.server.BaseHTTPRequestHandler):
    """A stand-in for ``https://api.groq.com``: echoes what reached it."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        seen = {
            "path": self.path,
            "authorization": self.headers.get("authorization"),
            "body": json.loads(self.rfile.read(length) or b"null"),
        }
        payload = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


def test_upstreams_map_catalog_hosts_and_async_client_works() -> None:
    fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    serving = threading.Thread(target=fake.serve_forever, daemon=True)
    serving.start()
    local = f"http://127.0.0.1:{fake.server_address[1]}"
    try:
        with LocalPlatform(catalogs=[GROQ], upstreams={"https://api.groq.com": local}) as platform:
            key = platform.create_customer("upstreams")

            async def set_secret() -> list[str]:
                async with platform.async_client(key) as client:
                    await client.secrets.set("GROQ_API_KEY", "gsk-local-test")
                    return [s.name for s in (await client.secrets.list()).data]

            assert asyncio.run(set_secret()) == ["GROQ_API_KEY"]
            response = httpx.post(
                f"{platform.gateway_url}/p/groq/v1/chat/completions",
                json={"model": "llama-3.1-8b-instant", "messages": []},
                headers={"Authorization": f"Bearer {key}"},
            )
        assert response.status_code == 200, response.text
        seen = response.json()
        # The catalog's https://api.groq.com/openai reached the local server instead.
        assert seen["path"] == "/openai/v1/chat/completions"
        assert seen["authorization"] == "Bearer gsk-local-test"
        assert seen["body"]["model"] == "llama-3.1-8b-instant"
    finally:
        fake.shutdown()
        fake.server_close()
        serving.join()


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from unitysvc_server.storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_new_platforms_copy_one_sqlite_schema_migrated_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from unitysvc_server.testing import TEST_DATABASE_ENV

    monkeypatch.delenv(TEST_DATABASE_ENV, raising=False)  # SQLite even in a PostgreSQL run

    def revision_and_customers(path: str | Path) -> list[object]:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            (customers,) = conn.execute("SELECT count(*) FROM customers").fetchone()
            return [revision, customers]

    template = migrated_template()
    assert migrated_template() == template  # made once
    with LocalPlatform() as platform:
        platform.create_customer("copied")
        database = platform.data_dir / "unitysvc.db"
        assert platform.database_url == f"sqlite+aiosqlite:///{database}"
        assert revision_and_customers(database) == [_head_revision(), 1]
    # A copy: what a platform writes never reaches the template.
    assert revision_and_customers(template) == [_head_revision(), 0]
    # A data dir given by the caller is theirs: no copy, the server migrates it.
    with LocalPlatform(data_dir=tmp_path / "given") as platform:
        platform.create_customer("given")
        assert revision_and_customers(tmp_path / "given" / "unitysvc.db") == [_head_revision(), 1]


def test_fresh_postgres_databases_copy_one_migrated_template(postgres_server_url: str) -> None:
    from sqlalchemy import text

    from unitysvc_server.storage.db import create_engine
    from unitysvc_server.testing import fresh_postgres_database, run_sync

    template = migrated_template(postgres_server_url)
    assert migrated_template(postgres_server_url) == template

    async def revision_and_customers(url: str) -> tuple[str, int]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                revision = await conn.execute(text("SELECT version_num FROM alembic_version"))
                customers = await conn.execute(text("SELECT count(*) FROM customers"))
                return revision.scalar_one(), customers.scalar_one()
        finally:
            await engine.dispose()

    with fresh_postgres_database(postgres_server_url, template=template) as url:
        with LocalPlatform(database_url=url) as platform:
            platform.create_customer("copied")
        assert run_sync(revision_and_customers(url)) == (_head_revision(), 1)
    # Twice: the template is left with nobody connected, ready for the next copy.
    with fresh_postgres_database(postgres_server_url, template=template) as url:
        assert run_sync(revision_and_customers(url)) == (_head_revision(), 0)
