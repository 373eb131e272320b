"""What budgets cost a gateway call: none, one that does not apply, one that does.

One platform server process (``--demo``, SQLite, or ``--database-url`` for PostgreSQL)
and three customers calling ``demo-small`` (a priced chat model) sequentially:

* ``no budgets`` — the gate is one cached dictionary lookup;
* ``budget, other scope`` — a service budget on another service: matched in memory,
  no database round trip;
* ``budget applies`` — an ``all`` budget: one read at admission and one atomic upsert
  when the call's usage is metered, before the response ends.

Prints p50/p99 latency and calls/s per row, from the same run (compare rows, not runs:
the machine is shared). Usage::

    python bench/bench_budgets.py [--calls 500] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from unitysvc_server.testing import LocalPlatform, fresh_postgres_database


def _measure(
    platform: LocalPlatform, key: str, path: str, calls: int
) -> tuple[float, float, float]:
    body = {"model": "demo-small", "messages": [{"role": "user", "content": "one two three"}]}
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    with httpx.Client(base_url=platform.gateway_url, headers=headers, timeout=30) as gw:
        for _ in range(20):  # warm the caches and the connection
            gw.post(path, json=body)
        started = time.perf_counter()
        for _ in range(calls):
            sent = time.perf_counter()
            response = gw.post(path, json=body)
            latencies.append((time.perf_counter() - sent) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"unexpected {response.status_code}: {response.text[:200]}")
        elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return statistics.median(latencies), p99, calls / elapsed


def main() -> None:
    """Run the rows and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    args = parser.parse_args()
    with _database(args.database_url) as database_url:
        options: dict[str, Any] = {"demo": True, "process": True, "scheduler_enabled": False}
        if database_url:
            options["database_url"] = database_url
        with LocalPlatform(**options) as platform:
            keys = {
                name: platform.create_customer(f"bench-{name}-{uuid.uuid4().hex[:6]}")
                for name in ("none", "other", "applies")
            }
            with platform.http(keys["other"]) as api:
                api.post(
                    "/budgets/",
                    json={"name": "b", "cap": "1000", "scope": "service", "target": "demo-large"},
                ).raise_for_status()
            with platform.http(keys["applies"]) as api:
                api.post("/budgets/", json={"name": "b", "cap": "1000"}).raise_for_status()
            with platform.http(keys["none"]) as api:
                found = api.get("/groups/llm/services").json()
            service_id = next(s["id"] for s in found["data"] if s["name"] == "demo-small")
            path = f"/p/{service_id}/chat/completions"
            rows = [
                ("no budgets", keys["none"]),
                ("budget, other scope", keys["other"]),
                ("budget applies", keys["applies"]),
            ]
            print(f"{'row':<22} {'p50 ms':>8} {'p99 ms':>8} {'calls/s':>8}")
            for label, key in rows:
                p50, p99, rate = _measure(platform, key, path, args.calls)
                print(f"{label:<22} {p50:>8.2f} {p99:>8.2f} {rate:>8.0f}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


@contextlib.contextmanager
def _database(server: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database on ``server`` for the run, or None (SQLite)."""
    if server is None:
        yield None
        return
    with fresh_postgres_database(server) as url:
        yield url


if __name__ == "__main__":
    main()
