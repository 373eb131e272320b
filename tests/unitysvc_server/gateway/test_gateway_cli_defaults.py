"""End to end through ``python -m unitysvc_server start``: the SSRF guard's defaults.

Private (loopback) BYOE upstreams are allowed by default with ``--demo``, refused by
default otherwise; ``--allow-private-upstreams`` / ``--deny-private-upstreams`` override
either way. Each case runs the real CLI as a separate process.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_helpers import FakeUpstream, free_port

import unitysvc
from unitysvc_server.config import Settings
from unitysvc_server.keys import create_key
from unitysvc_server.testing import run_sync

GWTEST = Path(__file__).parent / "data" / "gwtest"


@contextlib.contextmanager
def cli_server(data_dir: Path, *args: str) -> Iterator[str]:
    """Run ``unitysvc_server start`` with ``args``; yield its root URL once healthy."""
    port = free_port()
    log = data_dir / "server.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "unitysvc_server",
                "start",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--no-scheduler",
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        # One client for the whole wait: a new one per poll (its TLS context) costs more
        # CPU than the poll, taken from the server that is starting.
        with httpx.Client(timeout=2) as http:
            while True:
                assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
                with contextlib.suppress(httpx.TransportError):
                    if http.get(f"{root}/healthz").status_code == 200:
                        break
                assert time.monotonic() < deadline, "the CLI server did not become healthy"
                time.sleep(0.05)
        yield root
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def byoe_status(root: str, data_dir: Path, service: str, parameters: dict[str, str]) -> int:
    """Enroll in ``service`` and dispatch through the enrollment; the gateway's status."""
    key = run_sync(create_key(Settings(data_dir=data_dir), "ssrf-default"))
    with unitysvc.Client(api_key=key, base_url=f"{root}/v1") as client:
        service_id = next(
            str(s.id) for s in client.groups.iter_services("all_services") if s.name == service
        )
        enrollment = client.enrollments.create(service_id=service_id, parameters=parameters or None)
        settled = enrollment.wait(timeout=20)
        assert settled.status == "active", settled.record
        response = client.dispatch(f"e/{settled.code}/probe", json={})
    if response.status_code == 403:
        body = response.json()
        assert body["error_type"] == "forbidden_upstream"
        assert "--allow-private-upstreams" in body["detail"]
    return response.status_code


@pytest.mark.parametrize(
    ("flags", "expected"),
    [((), 200), (("--deny-private-upstreams",), 403)],
    ids=["demo-default-allows", "demo-deny"],
)
@pytest.mark.slow
def test_demo_allows_private_byoe_upstreams_by_default(
    tmp_path: Path, fake: FakeUpstream, flags: tuple[str, ...], expected: int
) -> None:
    with cli_server(tmp_path, "--demo", *flags) as root:
        status = byoe_status(root, tmp_path, "demo-byoe", {"base_url": f"{fake.url}/cli-demo"})
    assert status == expected


@pytest.mark.parametrize(
    ("flags", "expected"),
    [((), 403), (("--allow-private-upstreams",), 200)],
    ids=["default-denies", "allow"],
)
@pytest.mark.slow
def test_without_demo_private_byoe_upstreams_are_refused_by_default(
    tmp_path: Path, fake: FakeUpstream, flags: tuple[str, ...], expected: int
) -> None:
    # gwtest's "multi" BYOE channel lives on a public name the map points at loopback.
    mapping = f"https://fake.gwtest.example.com={fake.url}"
    with cli_server(tmp_path, "--catalog", str(GWTEST), "--upstream-map", mapping, *flags) as root:
        before = fake.count("/multi-byoe/")
        status = byoe_status(root, tmp_path, "multi", {})
    assert status == expected
    assert fake.count("/multi-byoe/") == before + (1 if expected == 200 else 0)
