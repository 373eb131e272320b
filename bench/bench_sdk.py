"""SDK overhead, side by side in one run: ours vs raw httpx vs the official SDK.

Measures, on loopback:

* per-call time of ``client.secrets.list()`` (20 secrets) and ``client.groups.list()``
  against one LocalPlatform (``process=True``: the server runs in its own interpreter,
  so it never competes with the client for a GIL), in interleaved blocks (ours, raw
  httpx, official; the order rotates every block), reporting medians, the ratio to
  raw httpx and the client's own time (``- raw``);
* the same calls against a *replay* server that answers with the bytes LocalPlatform
  returned (captured once), so that nearly all the time left is the client's own;
* ``import unitysvc`` wall time (fresh interpreters, interleaved, median), next to
  ``python -c pass``, httpx, openai and the official SDK;
* RSS after importing, creating a client and making one call, next to raw httpx and
  to raw httpx plus one tiny pydantic model (the floor of any pydantic-typed client).

Fresh interpreters run with a bytecode cache (see ``FRESH_ENV``), as installed
packages do.

The official SDK (``unitysvc-py``) lives in its own virtualenv because it shares our
import name; pass ``--official-python /path/to/venv/bin/python`` (the default looks
for ``$UNITYSVC_OFFICIAL_PYTHON``; its column is left out when neither is set).

Usage::

    python bench/bench_sdk.py [--quick] [--official-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

import unitysvc
from unitysvc_server.testing import LocalPlatform

OPS = ("secrets", "groups")

#: Fresh interpreters get bytecode caching (in a private folder), as an installed
#: package has: this workplace sets PYTHONDONTWRITEBYTECODE, and without caching our
#: editable sources would be compiled on every run (and the compiler's memory would
#: count in the RSS) while httpx, pydantic and the official SDK load from .pyc files.
_PYCACHE = tempfile.mkdtemp(prefix="bench_sdk_pyc_")
FRESH_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": _PYCACHE,
}

_OFFICIAL_WORKER = textwrap.dedent(
    """
    import sys, time
    from unitysvc import Client
    client = Client(sys.argv[1], base_url=sys.argv[2])
    ops = {"secrets": lambda: client.secrets.list(), "groups": lambda: client.groups.list()}
    for line in sys.stdin:
        op, n = line.split()
        fn = ops[op]
        times = []
        for _ in range(int(n)):
            t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
        print(" ".join(f"{t:.9f}" for t in times), flush=True)
    """
)

# A keep-alive HTTP/1.1 server that answers every GET with canned bytes: the
# response LocalPlatform gave to the same call. Runs in its own interpreter.
_REPLAY_SERVER = textwrap.dedent(
    """
    import json, socket, sys, threading
    canned = {k: v.encode("latin-1") for k, v in json.loads(sys.stdin.read()).items()}
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)

    def serve(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        with conn:
            while True:
                while b"\\r\\n\\r\\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\\r\\n\\r\\n")
                line = head.split(b"\\r\\n", 1)[0].decode("latin-1")
                key = next((k for k in canned if "/" + k in line), None)
                conn.sendall(canned[key] if key else
                             b"HTTP/1.1 404 Not Found\\r\\ncontent-length: 0\\r\\n\\r\\n")

    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    """
)


class OfficialWorker:
    """The official SDK, driven in its own interpreter, one block at a time."""

    def __init__(self, python: str, key: str, api_url: str) -> None:
        self.proc = subprocess.Popen(
            [python, "-c", _OFFICIAL_WORKER, key, api_url],
            env=FRESH_ENV,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def block(self, op: str, n: int) -> list[float]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{op} {n}\n")
        self.proc.stdin.flush()
        return [float(x) for x in self.proc.stdout.readline().split()]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


class ReplayServer:
    """The replay server process; ``url`` is its control-plane URL."""

    def __init__(self, canned: dict[str, bytes]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _REPLAY_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({k: v.decode("latin-1") for k, v in canned.items()}))
        self.proc.stdin.close()
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}/v1"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def timed_block(fn: Callable[[], Any], n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def raw_calls(raw: httpx.Client, api_url: str) -> dict[str, Callable[[], Any]]:
    """The same requests as the SDK calls, made with plain httpx (JSON decoded)."""
    return {
        "secrets": lambda: raw.get(f"{api_url}/secrets/", params={"skip": 0, "limit": 100}).json(),
        "groups": lambda: raw.get(f"{api_url}/groups", params={"owner": "all"}).json(),
    }


def capture(api_url: str, key: str) -> dict[str, bytes]:
    """The raw HTTP/1.1 responses of both calls, for the replay server."""
    canned = {}
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as raw:
        for op, call in raw_calls(raw, api_url).items():
            body = call()
            content = json.dumps(body, separators=(",", ":")).encode()
            canned[op] = (
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n" % len(content)
            ) + content
    return canned


def per_call(api_url: str, key: str, official: str | None, blocks: int, n: int) -> list[list[str]]:
    client = unitysvc.Client(key, base_url=api_url)
    raw = httpx.Client(headers={"Authorization": f"Bearer {key}"})
    worker = OfficialWorker(official, key, api_url) if official else None
    direct = raw_calls(raw, api_url)
    ours = {"secrets": client.secrets.list, "groups": client.groups.list}
    rows = []
    try:
        for op in OPS:
            runners: dict[str, Callable[[int], list[float]]] = {
                "ours": lambda n, op=op: timed_block(ours[op], n),
                "raw": lambda n, op=op: timed_block(direct[op], n),
            }
            if worker:
                runners["official"] = lambda n, op=op, w=worker: w.block(op, n)
            for run in runners.values():  # warm up connections, imports, schemas
                run(20)
            samples: dict[str, list[float]] = {name: [] for name in runners}
            names = list(runners)
            for i in range(blocks):
                for name in names[i % len(names) :] + names[: i % len(names)]:
                    samples[name] += runners[name](n)
            med = {k: statistics.median(v) * 1e6 for k, v in samples.items()}
            row = [
                f"{op}.list()",
                f"{med['raw']:.0f}",
                f"{med['ours']:.0f}",
                f"{med['ours'] / med['raw']:.3f}",
                f"{med['ours'] - med['raw']:+.0f}",
            ]
            if "official" in med:
                row += [
                    f"{med['official']:.0f}",
                    f"{med['official'] / med['raw']:.3f}",
                    f"{med['official'] - med['raw']:+.0f}",
                ]
            rows.append(row)
    finally:
        client.close()
        raw.close()
        if worker:
            worker.close()
    return rows


def import_times(official: str | None, runs: int) -> list[list[str]]:
    candidates: list[tuple[str, str, str]] = [
        ("python -c pass", sys.executable, "pass"),
        ("import httpx", sys.executable, "import httpx"),
        ("import httpx; httpx.Client()", sys.executable, "import httpx; httpx.Client()"),
        ("import unitysvc (ours)", sys.executable, "import unitysvc"),
        (
            "import unitysvc; Client() (ours)",
            sys.executable,
            "from unitysvc import Client; Client()",
        ),
    ]
    try:
        import openai  # noqa: F401

        candidates.append(("import openai", sys.executable, "import openai"))
    except ImportError:
        pass
    if official:
        candidates.append(("import httpx (official venv)", official, "import httpx"))
        candidates.append(("import unitysvc (official 0.2.1)", official, "import unitysvc"))
    for _, python, code in candidates:  # warm-up: fills the bytecode cache
        subprocess.run([python, "-c", code], check=True, env=FRESH_ENV)
    samples: dict[str, list[float]] = {name: [] for name, _, _ in candidates}
    for i in range(runs):  # interleaved: every candidate once per round, order rotated
        k = i % len(candidates)
        for name, python, code in candidates[k:] + candidates[:k]:
            t0 = time.perf_counter()
            subprocess.run([python, "-c", code], check=True, env=FRESH_ENV)
            samples[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(v) * 1000 for name, v in samples.items()}
    base = med["python -c pass"]
    return [[name, f"{ms:.0f}", f"{ms - base:.0f}"] for name, ms in med.items()]


_RSS = textwrap.dedent(
    """
    import time
    t0 = time.perf_counter()
    import json, sys
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    mode, key, url = sys.argv[1:]
    if mode in ("raw", "pydantic"):
        import httpx
        c = httpx.Client(headers={"Authorization": "Bearer " + key})
        rows = c.get(url + "/secrets/", params={"skip": 0, "limit": 100}).json()["data"]
        if mode == "pydantic":
            from pydantic import BaseModel
            class Row(BaseModel):
                id: str
                name: str
            [Row.model_validate(row) for row in rows]
    else:
        from unitysvc import Client
        c = Client(key, base_url=url)
        c.secrets.list()
    print(json.dumps([rss(), (time.perf_counter() - t0) * 1000]))
    """
)


def rss(api_url: str, key: str, official: str | None, runs: int) -> list[list[str]]:
    candidates = [
        ("raw httpx", sys.executable, "raw"),
        # The floor of any pydantic-typed client: raw httpx plus one tiny model.
        ("raw httpx + a 2-field pydantic model", sys.executable, "pydantic"),
        ("unitysvc (ours)", sys.executable, "sdk"),
    ]
    if official:
        candidates += [
            ("raw httpx (official venv)", official, "raw"),
            ("unitysvc (official 0.2.1)", official, "sdk"),
        ]
    samples: dict[str, list[float]] = {name: [] for name, _, _ in candidates}
    times: dict[str, list[float]] = {name: [] for name, _, _ in candidates}
    for i in range(runs + 1):  # the first round only warms the bytecode cache
        for name, python, mode in candidates:
            out = subprocess.run(
                [python, "-c", _RSS, mode, key, api_url],
                check=True,
                capture_output=True,
                text=True,
                env=FRESH_ENV,
            )
            if i:
                mib, ms = json.loads(out.stdout)
                samples[name].append(mib)
                times[name].append(ms)
    med = {name: statistics.median(v) for name, v in samples.items()}
    base = med["raw httpx"]
    return [
        [name, f"{mib:.1f}", f"{mib - base:+.1f}", f"{statistics.median(times[name]):.0f}"]
        for name, mib in med.items()
    ]


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer blocks, for a smoke run")
    parser.add_argument("--official-python", default=os.environ.get("UNITYSVC_OFFICIAL_PYTHON"))
    args = parser.parse_args()
    official = (
        args.official_python
        if args.official_python and Path(args.official_python).exists()
        else None
    )
    # Short blocks, many rounds: load from other processes hits every contender alike.
    blocks, n, runs = (10, 20, 5) if args.quick else (60, 40, 15)
    header = ["call", "raw httpx µs", "ours µs", "ours/raw", "ours-raw µs"]
    if official:
        header += ["official µs", "official/raw", "official-raw µs"]
    versions = f"httpx {httpx.__version__}, unitysvc {unitysvc.__version__}"
    print(f"python {sys.version.split()[0]}, {versions}")
    with LocalPlatform(demo=True, process=True) as platform:
        key = platform.create_customer("bench")
        with unitysvc.Client(key, base_url=platform.api_url) as client:
            for i in range(20):
                client.secrets.set(f"BENCH_SECRET_{i:02d}", "x" * 32)
            assert client.secrets.list().count == 20
            groups = len(client.groups.list())
        table(
            f"Per-call time vs LocalPlatform, median of {blocks}x{n} interleaved calls "
            f"(20 secrets, {groups} groups)",
            header,
            per_call(platform.api_url, key, official, blocks, n),
        )
        canned = capture(platform.api_url, key)
        table(
            f"RSS after import + client + one secrets.list() (MiB, median of {max(3, runs // 3)})"
            ", and the time all that took (the first call of a script or CLI command)",
            ["", "RSS", "vs raw httpx", "import to first result ms"],
            rss(platform.api_url, key, official, max(3, runs // 3)),
        )
    replay = ReplayServer(canned)
    try:
        table(
            f"Per-call time vs a replay server (same bytes, ~no server time), median of "
            f"{blocks}x{n}",
            header,
            per_call(replay.url, key, official, blocks, n),
        )
    finally:
        replay.close()
    table(
        f"Import time, median of {runs} fresh interpreters, interleaved (ms)",
        ["", "total", "minus interpreter"],
        import_times(official, runs),
    )
    shutil.rmtree(_PYCACHE, ignore_errors=True)
    command = " ".join(["python", "bench/bench_sdk.py", *sys.argv[1:]])
    print(
        "\nTargets: secrets.list() ours/raw <= 1.10; import unitysvc <= 150 ms; RSS <= raw "
        f"httpx + 4 MiB. {os.cpu_count()} CPUs, shared machine.\nCommand: {command}"
    )


if __name__ == "__main__":
    main()
