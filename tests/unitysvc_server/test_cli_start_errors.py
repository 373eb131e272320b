"""``usvc server start`` failing to start: one line saying why and what to do, exit 1.

A real subprocess through the ``usvc`` entry point, against the run's PostgreSQL server
(``postgres_server_url``: the machine's or an embedded one, over TCP or a Unix socket), a
port nothing listens on, a port something does, and catalogs that cannot load.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

USVC = Path(sys.executable).with_name("usvc")
LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def _postgres(server: str, database: str, **changes: object) -> str:
    base = make_url(server)
    return base.set(database=database, **changes).render_as_string(hide_password=False)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNITYSVC_")}
    return subprocess.run(
        [str(USVC), "server", "start", "--port", "0", "--data-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout + result.stderr
    assert "Traceback" not in lines[0]
    return lines[0]


def test_a_database_that_does_not_exist(tmp_path: Path, postgres_server_url: str) -> None:
    name = f"usvc_missing_{uuid.uuid4().hex[:8]}"
    result = _start(tmp_path, "--database-url", _postgres(postgres_server_url, name))
    line = _one_line(result)
    assert result.returncode == 1
    assert f'database "{name}" does not exist' in line
    assert "createdb -h " in line and name in line and "--database-url" in line


def test_an_unreachable_database_never_shows_the_password(tmp_path: Path) -> None:
    port = _free_port()
    url = _postgres(LOCAL_POSTGRES, "x", port=port, password="hunter2-secret")
    line = _one_line(_start(tmp_path, "--database-url", url))
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{port} (connection refused)" in line
    assert "start PostgreSQL" in line and "UNITYSVC_DATABASE_URL" in line
    assert "hunter2-secret" not in line


def test_a_role_that_does_not_exist(tmp_path: Path, postgres_server_url: str) -> None:
    url = _postgres(postgres_server_url, "postgres", username="no_such_role")
    line = _one_line(_start(tmp_path, "--database-url", url))
    assert 'has no role "no_such_role"' in line


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u@h/db", "unsupported scheme 'mysql'"),
        ("sqlite+aiosqlite:////proc/no-such-dir/db.sqlite", "no such file or directory"),
    ],
)
def test_a_bad_database_url(tmp_path: Path, url: str, expected: str) -> None:
    assert expected in _one_line(_start(tmp_path, "--database-url", url))


def test_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(USVC), "server", "start", "--port", str(port), "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    line = _one_line(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "another --port" in line


@pytest.mark.parametrize("kind", ["empty", "missing", "groups"])
def test_a_catalog_that_cannot_load(tmp_path: Path, kind: str) -> None:
    data = tmp_path / "data"
    if kind == "groups":
        groups = tmp_path / "groups.toml"
        groups.write_text("this is [not toml")
        args = ["--groups", str(groups)]
    else:
        catalog = tmp_path / "catalog"
        if kind == "empty":
            catalog.mkdir()
        args = ["--catalog", str(catalog)]
    result = _start(data, *args)
    line = _one_line(result)
    assert result.returncode in (1, 2)
    assert "catalog" in line.lower() or "groups" in line.lower()
