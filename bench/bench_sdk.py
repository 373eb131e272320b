"""SDK overhead, side by side in one run: ours vs raw httpx vs the official SDK.

Measures, against one LocalPlatform on loopback:

* per-call time of ``client.secrets.list()`` (20 secrets) and ``client.groups.list()``,
  in interleaved blocks (ours, raw httpx, official), reporting medians and the ratio
  to raw httpx;
* ``import unitysvc`` wall time (fresh interpreters, median), next to httpx, openai and
  the official SDK;
* RSS after creating a client and making one call, next to raw httpx.

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
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

import unitysvc
from unitysvc_server.testing import LocalPlatform

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


class OfficialWorker:
    """The official SDK, driven in its own interpreter, one block at a time."""

    def __init__(self, python: str, key: str, api_url: str) -> None:
        self.proc = subprocess.Popen(
            [python, "-c", _OFFICIAL_WORKER, key, api_url],
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


def timed_block(fn: Callable[[], Any], n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def per_call(
    platform: LocalPlatform, key: str, official: str | None, blocks: int, n: int
) -> list[list[str]]:
    client = unitysvc.Client(key, base_url=platform.api_url)
    raw = httpx.Client(headers={"Authorization": f"Bearer {key}"})
    worker = OfficialWorker(official, key, platform.api_url) if official else None
    rows = []
    try:
        for op, ours, direct in (
            (
                "secrets",
                client.secrets.list,
                lambda: raw.get(
                    f"{platform.api_url}/secrets/", params={"skip": 0, "limit": 100}
                ).json(),
            ),
            (
                "groups",
                client.groups.list,
                lambda: raw.get(f"{platform.api_url}/groups", params={"owner": "all"}).json(),
            ),
        ):
            samples: dict[str, list[float]] = {"ours": [], "raw": [], "official": []}
            for fn in (ours, direct):  # warm up connections and lazy imports
                timed_block(fn, 20)
            if worker:
                worker.block(op, 20)
            for _ in range(blocks):
                samples["ours"] += timed_block(ours, n)
                samples["raw"] += timed_block(direct, n)
                if worker:
                    samples["official"] += worker.block(op, n)
            med = {k: statistics.median(v) * 1e6 for k, v in samples.items() if v}
            row = [
                f"{op}.list()",
                f"{med['raw']:.0f}",
                f"{med['ours']:.0f}",
                f"{med['ours'] / med['raw']:.3f}",
            ]
            if "official" in med:
                row += [f"{med['official']:.0f}", f"{med['official'] / med['raw']:.3f}"]
            rows.append(row)
    finally:
        client.close()
        raw.close()
        if worker:
            worker.close()
    return rows


def import_times(official: str | None, runs: int) -> list[list[str]]:
    def measure(python: str, code: str) -> float:
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([python, "-c", code], check=True)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples) * 1000

    base = measure(sys.executable, "pass")
    rows = [
        ["python -c pass", f"{base:.0f}", "0"],
        ["import httpx", *_pair(measure(sys.executable, "import httpx"), base)],
        ["import unitysvc (ours)", *_pair(measure(sys.executable, "import unitysvc"), base)],
        [
            "from unitysvc import Client; Client()",
            *_pair(measure(sys.executable, "from unitysvc import Client; Client()"), base),
        ],
    ]
    try:
        import openai  # noqa: F401

        rows.append(["import openai", *_pair(measure(sys.executable, "import openai"), base)])
    except ImportError:
        pass
    if official:
        rows.append(
            ["import unitysvc (official 0.2.1)", *_pair(measure(official, "import unitysvc"), base)]
        )
    return rows


def _pair(total: float, base: float) -> list[str]:
    return [f"{total:.0f}", f"{total - base:.0f}"]


_RSS = textwrap.dedent(
    """
    import json, sys
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    mode, key, url = sys.argv[1:]
    if mode == "raw":
        import httpx
        c = httpx.Client(headers={"Authorization": "Bearer " + key})
        c.get(url + "/secrets/").json()
    else:
        from unitysvc import Client
        c = Client(key, base_url=url)
        c.secrets.list()
    print(json.dumps(rss()))
    """
)


def rss(platform: LocalPlatform, key: str, official: str | None) -> list[list[str]]:
    def measure(python: str, mode: str) -> float:
        out = subprocess.run(
            [python, "-c", _RSS, mode, key, platform.api_url],
            check=True,
            capture_output=True,
            text=True,
        )
        return float(json.loads(out.stdout))

    raw = statistics.median(measure(sys.executable, "raw") for _ in range(3))
    ours = statistics.median(measure(sys.executable, "sdk") for _ in range(3))
    rows = [
        ["raw httpx", f"{raw:.1f}", "0.0"],
        ["unitysvc (ours)", f"{ours:.1f}", f"{ours - raw:+.1f}"],
    ]
    if official:
        theirs = statistics.median(measure(official, "sdk") for _ in range(3))
        rows.append(["unitysvc (official 0.2.1)", f"{theirs:.1f}", f"{theirs - raw:+.1f}"])
    return rows


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))


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
    blocks, n, runs = (3, 50, 5) if args.quick else (10, 200, 15)
    with LocalPlatform() as platform:
        key = platform.create_customer("bench")
        with unitysvc.Client(key, base_url=platform.api_url) as client:
            for i in range(20):
                client.secrets.set(f"BENCH_SECRET_{i:02d}", "x" * 32)
        header = ["call", "raw httpx µs", "ours µs", "ours/raw"]
        if official:
            header += ["official µs", "official/raw"]
        table(
            f"Per-call time, median of {blocks}x{n} interleaved calls (loopback)",
            header,
            per_call(platform, key, official, blocks, n),
        )
        table(
            "RSS after import + client + one call (MiB)",
            ["", "RSS", "vs raw"],
            rss(platform, key, official),
        )
    table(
        f"Import time, median of {runs} fresh interpreters (ms)",
        ["", "total", "minus interpreter"],
        import_times(official, runs),
    )


if __name__ == "__main__":
    main()
