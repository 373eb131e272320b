"""Gateway overhead, side by side in one run: through the gateway vs straight to the upstream.

One gateway server process (``python -m unitysvc_server start``) with the one-service catalog in
``bench/gwbench`` whose upstream host is mapped (``--upstream-map``) to a fast local
upstream (a raw ASGI app on uvicorn + uvloop + httptools, its own process). Measured:

* latency of a small JSON POST at concurrency 1 (p50, p99) and 32 (p50, p99, req/s),
  through the gateway and direct, with ``wrk`` as the load generator (C, not the
  bottleneck; ``apt-get install -y wrk``);
* SSE time to first byte (median and p99 of sequential requests) through the gateway
  and direct, from a raw-socket client in this process;
* RSS growth of the gateway process while one request streams 1 GiB through it.

Everything binds 127.0.0.1. Usage::

    python bench/bench_gateway.py [--duration 10] [--stream-bytes 1073741824]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CATALOG = HERE / "gwbench"
SERVICE_ID = "0b0b0b0b-0000-4000-8000-00000000be0c"
UPSTREAM_ORIGIN = "https://bench-upstream.example.com"
BODY = b'{"model":"bench-echo","messages":[{"role":"user","content":"hello"}]}'

# The upstream: its own process, so its CPU does not count against the gateway.
UPSTREAM_APP = r"""
import asyncio

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    path = scope["path"]
    if path.endswith("/sse"):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        for i in range(3):
            await send({"type": "http.response.body", "more_body": True,
                        "body": b'data: {"n": %d}\n\n' % i})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        return
    if "/big/" in path:
        remaining = int(path.rsplit("/", 1)[1])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"),
                                (b"content-length", str(remaining).encode())]})
        chunk = b"x" * (256 * 1024)
        while remaining > 0:
            piece = chunk if remaining >= len(chunk) else chunk[:remaining]
            remaining -= len(piece)
            await send({"type": "http.response.body", "body": piece,
                        "more_body": remaining > 0})
        return
    body = b'{"id":"x","object":"chat.completion","choices":[{"message":{"content":"hi"}}]}'
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def start_upstream(stack: ExitStack, workdir: Path) -> int:
    (workdir / "bench_upstream.py").write_text(UPSTREAM_APP)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_upstream:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=workdir,
    )
    stack.callback(_stop, proc)
    wait_for_port(port)
    return port


def start_gateway(stack: ExitStack, workdir: Path, upstream_port: int) -> tuple[int, int, str]:
    """Start ``python -m unitysvc_server start`` (= ``usvc server start``) in its own
    process; returns (port, pid, api key)."""
    data_dir = workdir / "data"
    port = free_port()
    usvc = [sys.executable, "-m", "unitysvc_server"]
    key_out = subprocess.run(
        [*usvc, "keys", "create", "--name", "bench", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"svcpass_[A-Za-z0-9_\-]+", key_out)
    if not match:
        raise RuntimeError(f"no key in `usvc server keys create` output: {key_out!r}")
    proc = subprocess.Popen(
        [
            *usvc,
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "WARNING",
            "--data-dir",
            str(data_dir),
            "--catalog",
            str(CATALOG),
            "--upstream-map",
            f"{UPSTREAM_ORIGIN}=http://127.0.0.1:{upstream_port}",
        ],
        stdout=subprocess.DEVNULL,
    )
    stack.callback(_stop, proc)
    wait_for_port(port)
    return port, proc.pid, match.group(0)


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


# -- wrk ----------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, key: str, connections: int, duration: int, workdir: Path) -> dict[str, float]:
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{BODY.decode()}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} non-2xx responses under load:\n{out}")
    return {"p50_ms": p50, "p99_ms": p99, "rps": rps}


# -- raw-socket HTTP client for TTFB and the big stream --------------------------


def _request(port: int, path: str, key: str | None, body: bytes = BODY) -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def ttfb(port: int, path: str, key: str | None, runs: int) -> dict[str, float]:
    """Time from sending the request to the first body byte of an SSE response."""
    times: list[float] = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        request = _request(port, path, key)
        for _ in range(runs):
            started = time.perf_counter()
            sock.sendall(request)
            headers = b""
            while not headers.endswith(b"\r\n\r\n"):
                headers += reader.read(1)
            first = reader.readline()  # chunk size line of the first chunk
            times.append((time.perf_counter() - started) * 1000)
            if b"chunked" not in headers.lower():
                raise RuntimeError(f"expected a chunked SSE response, got {headers!r}")
            _drain_chunked(reader, first)
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[int(len(times) * 0.99) - 1]}


def _drain_chunked(reader: Any, size_line: bytes) -> None:
    while True:
        size = int(size_line.strip().split(b";")[0], 16)
        reader.read(size + 2)
        if size == 0:
            return
        size_line = reader.readline()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def stream_rss(port: int, pid: int, key: str, total: int) -> dict[str, float]:
    """Stream ``total`` bytes through one gateway request, sampling the server's RSS."""
    before = rss_kb(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    received = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_request(port, f"/p/{SERVICE_ID}/big/{total}", key, b"{}"))
        buffer = bytearray(1024 * 1024)
        view = memoryview(buffer)
        header = b""
        while b"\r\n\r\n" not in header:
            header += sock.recv(1)
        if b" 200 " not in header.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"big stream failed: {header!r}")
        while received < total:
            n = sock.recv_into(view)
            if n == 0:
                break
            received += n
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    if received < total:
        raise RuntimeError(f"stream ended after {received} of {total} bytes")
    return {
        "bytes": float(received),
        "seconds": elapsed,
        "rss_before_mb": before / 1024,
        "rss_peak_mb": peak[0] / 1024,
        "rss_growth_mb": (peak[0] - before) / 1024,
        "throughput_mb_s": received / elapsed / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--stream-bytes", type=int, default=1 << 30)
    parser.add_argument("--ttfb-runs", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print raw results as JSON")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed as the load generator: apt-get install -y wrk")

    results: dict[str, Any] = {}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gwbench-")))
        up_port = start_upstream(stack, workdir)
        gw_port, gw_pid, key = start_gateway(stack, workdir, up_port)
        direct = f"http://127.0.0.1:{up_port}/v1/chat/completions"
        through = f"http://127.0.0.1:{gw_port}/p/{SERVICE_ID}/chat/completions"
        # Warm both paths (connection pools, caches) before measuring.
        wrk(through, key, 4, 2, workdir)
        wrk(direct, key, 4, 1, workdir)
        for connections in (1, 32):
            results[f"c{connections}"] = {
                "direct": wrk(direct, key, connections, args.duration, workdir),
                "gateway": wrk(through, key, connections, args.duration, workdir),
            }
        ttfb(up_port, "/v1/sse", key, 50)
        ttfb(gw_port, f"/p/{SERVICE_ID}/sse", key, 50)
        results["sse_ttfb"] = {
            "direct": ttfb(up_port, "/v1/sse", key, args.ttfb_runs),
            "gateway": ttfb(gw_port, f"/p/{SERVICE_ID}/sse", key, args.ttfb_runs),
        }
        results["stream"] = stream_rss(gw_port, gw_pid, key, args.stream_bytes)

    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"gateway bench (one server process, loopback, wrk, {args.duration}s per run)")
    for name in ("c1", "c32"):
        d, g = results[name]["direct"], results[name]["gateway"]
        print(
            f"  {name:>4}: direct p50 {d['p50_ms']:.3f} ms p99 {d['p99_ms']:.3f} ms "
            f"{d['rps']:.0f} req/s | gateway p50 {g['p50_ms']:.3f} ms p99 {g['p99_ms']:.3f} ms "
            f"{g['rps']:.0f} req/s | overhead p50 {g['p50_ms'] - d['p50_ms']:.3f} ms "
            f"p99 {g['p99_ms'] - d['p99_ms']:.3f} ms"
        )
    d, g = results["sse_ttfb"]["direct"], results["sse_ttfb"]["gateway"]
    print(
        f"  SSE TTFB: direct p50 {d['p50_ms']:.3f} ms p99 {d['p99_ms']:.3f} ms | gateway p50 "
        f"{g['p50_ms']:.3f} ms p99 {g['p99_ms']:.3f} ms | +{g['p50_ms'] - d['p50_ms']:.3f} ms"
    )
    s = results["stream"]
    print(
        f"  stream {s['bytes'] / (1 << 30):.2f} GiB in {s['seconds']:.1f} s "
        f"({s['throughput_mb_s']:.0f} MB/s): RSS {s['rss_before_mb']:.1f} -> peak "
        f"{s['rss_peak_mb']:.1f} MB (+{s['rss_growth_mb']:.1f} MB)"
    )


if __name__ == "__main__":
    main()
