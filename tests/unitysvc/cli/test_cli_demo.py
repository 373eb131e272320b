"""``usvc demo``: run to completion, every step shown, nothing left running.

The demo starts its own platform, so these tests need no fixture platform: they
check what it printed, that it exited 0, and that its server, threads and
temporary directory are gone afterwards. ``--keep`` runs as a real process so
that Ctrl-C can be sent to it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import unitysvc

DEMO_BYOK_KEY = "sk-demo-byok-0123456789"

#: One phrase per step (and the results that prove the step worked), in order.
STEPS = [
    " 1/14 Start the platform",
    "listening on http://127.0.0.1:",
    " 2/14 Create a customer",
    " 3/14 Browse the catalog",
    "all_services",
    "demo-byok",
    "2 groups, 7 services",
    " 4/14 Set a preference: log every gateway call below, with complete bodies",
    "preference request-log = complete (source: account)",
    " 5/14 Store a secret",
    "secret DEMO_API_KEY stored encrypted",
    " 6/14 Enroll in demo-byok",
    ": pending",
    "enrollment active after",
    " 7/14 Dispatch a chat completion",
    "200 in",
    "'[demo-byok] Hello from the unitysvc demo'",
    " 8/14 Stream a reply, token by token",
    "[demo-byok] streaming arrives one token at a time",
    "8 tokens streamed",
    " 9/14 Resolve a route",
    "demo-medium",
    "model demo-medium resolves to: demo-medium",
    "10/14 Cache a slow call",
    "x-unitysvc-cache: miss",
    "x-unitysvc-cache: hit",
    "11/14 Fail over from demo-down",
    "demo-down alone answers 503",
    "200 from the secondary (x-unitysvc-failover: 1): '[demo-small] Are you there?'",
    "12/14 Schedule a recurrent request every 1s",
    "run 1 fired at",
    "run 2 fired at",
    "schedule deleted",
    "13/14 Read the request log",
    "14/14 See what it cost",
    "client.usage.cycle()",
    "Done in",
    "Platform stopped; temporary data removed.",
]


def _in_order(text: str, phrases: list[str]) -> None:
    position = 0
    for phrase in phrases:
        found = text.find(phrase, position)
        assert found >= 0, f"{phrase!r} missing (after offset {position}) in:\n{text}"
        position = found + len(phrase)


def _port_closed(url: str) -> bool:
    host, port = re.match(r"http://([\d.]+):(\d+)", url).groups()  # type: ignore[union-attr]
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) != 0


def _platform_url(output: str) -> str:
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", output)
    assert match, output
    return match.group(1)


def _data_dir(output: str) -> Path:
    match = re.search(r"SQLite in (\S+),", output)
    assert match, output
    return Path(match.group(1))


def test_demo_walks_through_every_step_and_leaves_nothing_running(usvc_offline: Any) -> None:
    threads_before = set(threading.enumerate())

    result = usvc_offline.ok("demo")

    out = result.stdout
    _in_order(out, STEPS)
    # The request log shows the calls of every step, the scheduled runs included.
    log = out[out.index("13/14") :]
    for path in ("e/", "m/g/llm/chat/completions?_ttl=5m", "f/p/", "demo-down/v1", "schedule"):
        assert path in log, (path, log)
    assert re.search(r"✓ \d+ request-log rows", log)
    # The cost step: the priced demo-small calls cost something, the errors nothing.
    cost = out[out.index("14/14") :]
    total = re.search(r"✓ total (\S+) USD for (\d+) upstream calls", cost)
    assert total, cost
    assert Decimal(total.group(1)) > 0 and int(total.group(2)) >= 8
    down = re.search(r"demo-down\s+(\d+)\s+(\d+)\s+-\s+(\S+)", cost)
    assert down and down.group(1) == down.group(2) and Decimal(down.group(3)) == 0, cost
    # Keys are shown by prefix only; the BYOK secret never.
    assert DEMO_BYOK_KEY not in out
    assert not re.search(r"svcpass_[A-Za-z0-9_-]{20,}", out)
    assert "export UNITYSVC" not in out

    # Nothing left running: server port closed, threads gone, temporary data removed.
    assert _port_closed(_platform_url(out))
    assert not _data_dir(out).exists()
    # A worker thread may still be returning from its last task when the demo
    # exits; give those a bounded moment, then anything alive is a leak.
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(timeout=5)
    leftover = {t for t in set(threading.enumerate()) - threads_before if t.is_alive()}
    assert not leftover, sorted(thread.name for thread in leftover)


def test_demo_without_the_server_extra_says_what_to_install(
    usvc_offline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import fail, as when the extra is not installed.
    monkeypatch.setitem(sys.modules, "unitysvc_server.app", None)
    line = usvc_offline.fails("demo")
    assert 'pip install "unitysvc[server]"' in line
    assert "unitysvc_server.app" in line


def test_demo_help_explains_keep(usvc_offline: Any) -> None:
    out = usvc_offline.ok("demo", "--help").stdout
    assert "--keep" in out
    assert "usvc demo --keep" in out


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Lines of ``proc``'s stdout up to (and including) the one containing ``marker``."""
    lines: list[str] = []
    done = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if marker in line:
                break
        done.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    if not done.wait(timeout):
        proc.kill()
        reader.join()
        raise AssertionError(f"{marker!r} never printed:\n{''.join(lines)}")
    reader.join()
    return "".join(lines)


def _wait_for_exit(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """The rest of the child's output once it exits; if it hangs, fail with its stacks."""
    try:
        rest, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        stacks, _ = proc.communicate(timeout=30)
        pytest.fail(f"usvc demo --keep did not stop within {timeout} s; its stacks:\n{stacks}")
    return rest


def _demo_keep() -> subprocess.Popen[str]:
    """``usvc demo --keep`` in a child process, without the caller's UNITYSVC_* settings."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("UNITYSVC_")},
        "NO_COLOR": "1",
        "PYTHONUNBUFFERED": "1",
        # A child that does not stop is sent SIGABRT: its threads' stacks say where it hung.
        "PYTHONFAULTHANDLER": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from unitysvc.cli import main; main()", "demo", "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_demo_keep_serves_until_ctrl_c_and_prints_exports() -> None:
    proc = _demo_keep()
    try:
        head = _read_until(proc, "Press Ctrl-C to stop.", timeout=90)
        exports = dict(
            re.findall(r"^export (UNITYSVC_API_URL|UNITYSVC_API_KEY)=(\S+)$", head, re.M)
        )
        assert set(exports) == {"UNITYSVC_API_URL", "UNITYSVC_API_KEY"}, head
        assert exports["UNITYSVC_API_KEY"].startswith("svcpass_")

        # The printed settings work for your own code: the demo's customer and its data.
        with unitysvc.Client(
            exports["UNITYSVC_API_KEY"], base_url=exports["UNITYSVC_API_URL"]
        ) as client:
            assert "DEMO_API_KEY" in [s.name for s in client.secrets.list().data]
            assert [e.status for e in client.enrollments.list()] == ["active"]
            # The demo's schedule was removed before handing over.
            assert client.recurrent_requests.list().count == 0
            reply = client.dispatch(
                "g/llm/chat/completions",
                json={"model": "demo-large", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert reply.json()["choices"][0]["message"]["content"] == "[demo-large] hi"

        proc.send_signal(signal.SIGINT)
        rest = _wait_for_exit(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, head + rest
    assert "Platform stopped; temporary data removed." in rest
    assert _port_closed(exports["UNITYSVC_API_URL"])
    assert not _data_dir(head).exists()


@pytest.mark.slow
def test_demo_keep_stops_cleanly_on_sigterm() -> None:
    proc = _demo_keep()
    try:
        head = _read_until(proc, "Press Ctrl-C to stop.", timeout=90)
        proc.terminate()
        rest = _wait_for_exit(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, head + rest
    assert "Platform stopped; temporary data removed." in rest
    assert _port_closed(_platform_url(head))
    assert not _data_dir(head).exists()


def test_demo_shows_progress_before_importing_the_platform() -> None:
    """Output order, not timing: with stdout and stderr in one unbuffered pipe, the
    header and the first step come before ``-X importtime`` reports the platform."""
    command = [
        sys.executable,
        "-u",
        "-X",
        "importtime",
        "-c",
        "from unitysvc.cli import main; main()",
        "demo",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNITYSVC_")}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**env, "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        for line in process.stdout:
            seen.append(line)
            if line.rstrip().endswith("| unitysvc_server.app"):
                break
        else:
            raise AssertionError("the demo ended without importing the platform")
    finally:
        process.send_signal(signal.SIGTERM)  # the demo cleans up on SIGTERM
        process.communicate(timeout=60)
    shown = "".join(line for line in seen if not line.startswith("import time:"))
    assert "UnitySVC demo" in shown
    assert "1/14" in shown and "Start the platform" in shown
