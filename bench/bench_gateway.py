"""Gateway overhead, side by side in one run: through the gateway, straight to the upstream,
and through Portkey's and LiteLLM's gateways.

One gateway server process (``python -m unitysvc_server start``) with the two-service catalog
in ``bench/gwbench`` whose upstream host is mapped (``--upstream-map``) to a fast local
upstream (``_upstream.py``: an asyncio protocol on uvloop + httptools, its own process,
answering ``/v1/chat/completions`` in OpenAI's shape: JSON, or three SSE events when the
body asks for ``"stream": true``). Measured:

* latency of a small chat-completions POST at concurrency 1 (p50, p99) and 32 (p50, p99,
  req/s), through the gateway and direct, with ``wrk`` as the load generator (C, not the
  bottleneck; ``apt-get install -y wrk``); at concurrency 1 and 20 also through a BYOK
  channel (``bench-byok``: the caller's secret is the upstream key, so the gateway needs
  the caller's secrets on every call);
* side by side at concurrency 1 and 20, non-streaming and streaming, the same requests
  through Portkey's open-source gateway (Node, pinned in ``bench/portkey``) and LiteLLM's
  proxy (1 worker, no database, callbacks off, ``LITELLM_LOCAL_MODEL_COST_MAP=True``),
  both pointed at the same upstream; plus SSE time to first byte through each. Neither is
  a project dependency: ``--install`` installs both into ``bench/`` (``npm ci`` from the
  lockfile; a virtualenv for LiteLLM), ``--portkey``/``$UNITYSVC_BENCH_PORTKEY`` and
  ``--litellm``/``$UNITYSVC_BENCH_LITELLM`` point at other copies, and a column is skipped,
  with a message, when its gateway is not found (see ``_competitors.py``);
* SSE time to first byte (median and p99 of sequential requests) from a raw-socket client
  in this process;
* RSS growth of the gateway process while one request streams 1 GiB through it.

wrk keeps every connection busy (closed loop), so at concurrency N the latency is about
N / throughput once the server saturates: overhead there is mostly queueing.

Everything binds 127.0.0.1. Usage (bench/README.md has more)::

    python bench/bench_gateway.py [--duration 10] [--stream-bytes 1073741824]
        [--install] [--portkey PATH/TO/start-server.js] [--litellm PATH/TO/litellm]

To see where the gateway's time goes, sample its process while wrk runs (``pip install
py-spy``): ``py-spy record -p <gateway pid> -d 12 -r 200 -f raw -o gw.txt --nonblocking``.
On the bench machine most samples are socket writes (the upstream request, then uvicorn's
separate writes of the response head and body), then uvicorn and the event loop; the
gateway's own code (auth cache, path parsing, stages, resolution) is a few percent each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from _competitors import (
    LITELLM_ENV,
    install_litellm,
    install_portkey,
    litellm_executable,
    litellm_version,
    portkey_entry,
    portkey_version,
)

__all__ = ["LITELLM_ENV", "litellm_executable", "portkey_entry"]

HERE = Path(__file__).resolve().parent
CATALOG = HERE / "gwbench"
#: The fake upstream every gateway here is measured against, run as its own process.
UPSTREAM = HERE / "_upstream.py"
SERVICE_ID = "0b0b0b0b-0000-4000-8000-00000000be0c"
#: The same upstream behind a BYOK channel: the caller's secret is the upstream key.
BYOK_SERVICE_ID = "0b0b0b0b-0000-4000-8000-00000000b70c"
BYOK_SECRET = "BENCH_UPSTREAM_KEY"
UPSTREAM_ORIGIN = "https://bench-upstream.example.com"
BODY = b'{"model":"bench-echo","messages":[{"role":"user","content":"hello"}]}'
STREAM_BODY = b'{"model":"bench-echo","stream":true,"messages":[{"role":"user","content":"hello"}]}'
LITELLM_KEY = "sk-bench-master"
#: The upstream key the other gateways pass on (the upstream accepts any).
UPSTREAM_KEY = "sk-bench-upstream"
#: Pause between requests per connection in the paced concurrency-20 run.
PACE_MS = 20


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
    """Start the fake upstream (``_upstream.py``) in its own process in ``workdir``, so its
    CPU does not count against the gateway's; returns its port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(UPSTREAM), "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
    )
    stack.callback(_stop, proc)
    wait_for_port(port)
    return port


def set_secret(port: int, key: str, name: str, value: str) -> None:
    """``PUT /v1/secrets/<name>`` as the bench customer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/secrets/{name}",
        data=json.dumps({"value": value}).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def start_gateway(
    stack: ExitStack,
    workdir: Path,
    upstream_port: int,
    *,
    name: str = "data",
    database_url: str | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> tuple[int, int, str]:
    """Start ``python -m unitysvc_server start`` (= ``usvc server start``) in its own
    process on the ``bench/gwbench`` catalog; returns (port, pid, api key).

    Args:
        stack: Stops the server when closed.
        workdir: Holds the data directory ``name``.
        upstream_port: The bench upstream the catalog's upstream host is mapped to.
        name: The data directory's name (several servers can share ``workdir``).
        database_url: PostgreSQL instead of the data directory's SQLite file.
        extra_args: More ``start`` options (``--workers 2`` ...).
        env: The server's environment (default this process's).
    """
    data_dir = workdir / name
    port = free_port()
    usvc = [sys.executable, "-m", "unitysvc_server"]
    database = ["--database-url", database_url] if database_url else []
    key_out = subprocess.run(
        [*usvc, "keys", "create", "--name", "bench", "--data-dir", str(data_dir), *database],
        env=env,
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
            *database,
            *extra_args,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    stack.callback(_stop, proc)
    wait_for_port(port)
    return port, proc.pid, match.group(0)


LITELLM_CONFIG = """\
model_list:
  - model_name: bench-echo
    litellm_params:
      model: openai/bench-echo
      api_base: http://127.0.0.1:{port}/v1
      api_key: {upstream_key}
general_settings:
  master_key: {key}
litellm_settings:
  callbacks: []
  success_callback: []
  failure_callback: []
"""


def start_litellm(stack: ExitStack, workdir: Path, executable: str, upstream_port: int) -> int:
    """LiteLLM's proxy: 1 worker, no database, callbacks off, local cost map; its port.

    It authenticates with a master key (no database: no virtual keys), as the gateway
    authenticates its ``svcpass_`` key.
    """
    config = workdir / "litellm.yaml"
    config.write_text(
        LITELLM_CONFIG.format(port=upstream_port, key=LITELLM_KEY, upstream_key=UPSTREAM_KEY)
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR")
    log = (workdir / "litellm.log").open("wb")
    stack.callback(log.close)
    proc = subprocess.Popen(
        [
            executable,
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(_stop, proc)
    try:
        wait_for_port(port, timeout=120)
    except RuntimeError:
        raise RuntimeError(
            f"LiteLLM did not start: {(workdir / 'litellm.log').read_text()[-2000:]}"
        ) from None
    return port


def start_portkey(stack: ExitStack, workdir: Path, entry: str) -> int:
    """Portkey's open-source gateway (``node start-server.js --headless``); its port.

    Its defaults otherwise: no cache, no retries, its per-request log middleware on. It has
    no caller authentication of its own; the caller's key goes to the upstream. Requests
    name the provider and the upstream in headers (:func:`portkey_headers`).
    """
    port = free_port()
    log = (workdir / "portkey.log").open("wb")
    stack.callback(log.close)
    proc = subprocess.Popen(
        [
            "node",
            "--require",
            str(HERE / "portkey" / "loopback.cjs"),
            entry,
            f"--port={port}",
            "--headless",
        ],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(_stop, proc)
    try:
        wait_for_port(port, timeout=60)
    except RuntimeError:
        raise RuntimeError(
            f"Portkey did not start: {(workdir / 'portkey.log').read_text()[-2000:]}"
        ) from None
    return port


def portkey_headers(upstream_port: int) -> dict[str, str]:
    """What routes a Portkey request to the bench upstream as an OpenAI provider."""
    return {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"http://127.0.0.1:{upstream_port}/v1",
    }


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- wrk ----------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(
    url: str,
    key: str | None,
    connections: int,
    duration: int,
    workdir: Path,
    pause_ms: int = 0,
    *,
    method: str = "POST",
    body: bytes | None = BODY,
    headers: dict[str, str] | None = None,
    paths: list[str] | None = None,
) -> dict[str, float]:
    """One wrk run: p50/p99 latency (ms), req/s, and the request count and seconds.

    ``pause_ms`` makes each connection wait that long on average between requests (a
    paced load: the latency measured excludes the pause); ``paths``, when given, are
    requested in turn instead of ``url``'s path. Any non-2xx/3xx answer is an error.
    """
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = '{body.decode()}'")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    if key is not None:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {key}"')
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in (headers or {}).items()]
    if pause_ms:
        # Random pauses (mean pause_ms) keep the connections from marching in lockstep,
        # which would turn a paced load into bursts of 20 simultaneous requests.
        lines.append(f"function delay() return math.random(0, {2 * pause_ms}) end")
    if paths:
        lines.append("local paths = {" + ", ".join(f'"{path}"' for path in paths) + "}")
        lines.append("local n = 0")
        lines.append(
            "function request() n = n + 1 return wrk.format(nil, paths[n % #paths + 1]) end"
        )
    script = workdir / "wrk.lua"
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    try:
        p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        count, took = re.search(r"(\d+) requests in ([\d.]+\w+)", out).groups()  # type: ignore[union-attr]
    except (AttributeError, KeyError) as exc:
        raise RuntimeError(f"cannot read wrk's output for {url}:\n{out}") from exc
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} non-2xx responses under load:\n{out}")
    if int(count) == 0:
        raise RuntimeError(f"{url}: no request completed in {duration}s:\n{out}")
    return {
        "p50_ms": p50,
        "p99_ms": p99,
        "rps": rps,
        "requests": float(count),
        "seconds": _ms(took) / 1000,
    }


# -- raw-socket HTTP client for TTFB and the big stream --------------------------


def _request(
    port: int,
    path: str,
    key: str | None,
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
) -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{auth}{extra}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def ttfb(
    port: int,
    path: str,
    key: str | None,
    runs: int,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    """Time from sending a ``"stream": true`` request to the first body byte of its SSE
    response (sequential requests on one connection)."""
    times: list[float] = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        request = _request(port, path, key, STREAM_BODY, headers)
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


def _verdict(value: float, limit: float) -> str:
    return "ok" if value <= limit else "MISSED"


#: The side-by-side table's rows, in order (``results`` keys).
COMPARED = ("direct", "gateway", "portkey", "litellm")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The bench's command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--stream-bytes", type=int, default=1 << 30)
    parser.add_argument("--ttfb-runs", type=int, default=500)
    parser.add_argument(
        "--install",
        action="store_true",
        help="first install the pinned Portkey gateway (npm ci in bench/portkey) and "
        "LiteLLM (a virtualenv in bench/litellm/venv) where missing",
    )
    parser.add_argument(
        "--portkey",
        default=None,
        help="Portkey's build/start-server.js for the side-by-side rows (default: "
        "$UNITYSVC_BENCH_PORTKEY, else the copy in bench/portkey; '' to skip)",
    )
    parser.add_argument(
        "--litellm",
        default=None,
        help=f"LiteLLM proxy executable for the side-by-side rows (default: ${LITELLM_ENV}, "
        "else bench/litellm/venv, else litellm on PATH; '' to skip)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="run the gateway with /metrics on (--metrics --metrics-public), to see what "
        "counting every call costs",
    )
    parser.add_argument("--json", action="store_true", help="print raw results as JSON")
    args = parser.parse_args(argv)
    if args.duration < 1:
        parser.error("--duration: at least 1 (seconds per wrk run)")
    if args.ttfb_runs < 1:
        parser.error("--ttfb-runs: at least 1")
    return args


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed as the load generator: apt-get install -y wrk")
    if args.install:
        if args.portkey is None and portkey_entry(None)[0] is None:
            install_portkey()
        if args.litellm is None and litellm_executable(None)[0] is None:
            install_litellm()
    portkey, portkey_skipped = portkey_entry(args.portkey)
    litellm, litellm_skipped = litellm_executable(args.litellm)
    results = measure(args, portkey, litellm)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    report(results, args.duration, [why for why in (portkey_skipped, litellm_skipped) if why])


def measure(args: argparse.Namespace, portkey: str | None, litellm: str | None) -> dict[str, Any]:
    """Every run of the bench; the servers are started first and all stay up to the end,
    so each comparison is made back to back."""
    from unitysvc import __version__

    results: dict[str, Any] = {"versions": {"unitysvc": __version__}}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gwbench-")))
        up_port = start_upstream(stack, workdir)
        options = ("--metrics", "--metrics-public") if args.metrics else ()
        results["gateway_options"] = list(options)
        gw_port, gw_pid, key = start_gateway(stack, workdir, up_port, extra_args=options)
        chat = "/v1/chat/completions"
        # who -> (port, path, key, extra headers)
        targets: dict[str, tuple[int, str, str | None, dict[str, str]]] = {
            "direct": (up_port, chat, key, {}),
            "gateway": (gw_port, f"/p/{SERVICE_ID}/chat/completions", key, {}),
        }
        if portkey is not None:
            port = start_portkey(stack, workdir, portkey)
            targets["portkey"] = (port, chat, UPSTREAM_KEY, portkey_headers(up_port))
            results["versions"]["portkey"] = portkey_version(portkey)
        if litellm is not None:
            port = start_litellm(stack, workdir, litellm, up_port)
            targets["litellm"] = (port, chat, LITELLM_KEY, {})
            results["versions"]["litellm"] = litellm_version(litellm)
        byok = f"http://127.0.0.1:{gw_port}/p/{BYOK_SERVICE_ID}/chat/completions"
        set_secret(gw_port, key, BYOK_SECRET, UPSTREAM_KEY)

        def run(who: str, connections: int, body: bytes = BODY, pause_ms: int = 0) -> Any:
            port, path, auth, headers = targets[who]
            return wrk(
                f"http://127.0.0.1:{port}{path}",
                auth,
                connections,
                args.duration,
                workdir,
                pause_ms,
                body=body,
                headers=headers,
            )

        # Check every path answers as it should, then warm it (pools, caches, JITs).
        for who, (port, path, auth, headers) in targets.items():
            check_answers(who, port, path, auth, headers)
            for body in (BODY, STREAM_BODY):
                url = f"http://127.0.0.1:{port}{path}"
                wrk(url, auth, 4, 2, workdir, body=body, headers=headers)
        wrk(byok, key, 4, 2, workdir)
        for connections in (1, 32, 20):
            runs = results[f"c{connections}"] = {}
            for who in targets:
                if connections != 32 or who in ("direct", "gateway"):
                    runs[who] = run(who, connections)
            if connections != 32:
                runs["gateway BYOK"] = wrk(byok, key, connections, args.duration, workdir)
        for connections in (1, 20):
            results[f"stream_c{connections}"] = {
                who: run(who, connections, STREAM_BODY) for who in targets
            }
        # 20 connections, each pausing 20 ms on average between requests: about 1,000 req/s
        # offered, ten times what LiteLLM serves here; the latency is overhead, not queueing.
        results["c20_paced"] = {
            who: run(who, 20, pause_ms=PACE_MS) for who in ("direct", "gateway")
        }
        results["sse_ttfb"] = {}
        for who, (port, path, auth, headers) in targets.items():
            ttfb(port, path, auth, 50, headers)
            results["sse_ttfb"][who] = ttfb(port, path, auth, args.ttfb_runs, headers)
        results["stream"] = stream_rss(gw_port, gw_pid, key, args.stream_bytes)
    return results


def check_answers(who: str, port: int, path: str, key: str | None, headers: dict[str, str]) -> None:
    """One plain and one ``"stream": true`` request through ``who``: a 200 with JSON, then
    a 200 with ``text/event-stream`` ending in ``[DONE]`` (the first call may be slow: a
    gateway's lazy start-up)."""
    for body, kind in ((BODY, "application/json"), (STREAM_BODY, "text/event-stream")):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {key}"} if key else {}),
                **headers,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = response.read()
                content_type = response.headers.get("content-type", "")
        except OSError as exc:  # urllib's HTTPError and URLError are OSErrors
            detail = exc.read()[:500] if isinstance(exc, urllib.error.HTTPError) else b""
            raise RuntimeError(f"{who}: {kind} request failed: {exc} {detail!r}") from None
        if not content_type.startswith(kind) or (
            kind == "text/event-stream" and b"[DONE]" not in answer
        ):
            raise RuntimeError(f"{who}: expected {kind}, got {content_type}: {answer[:300]!r}")


def report(results: dict[str, Any], duration: int, skipped: list[str]) -> None:
    """Print the tables and the targets."""
    load = os.getloadavg()
    print(
        f"gateway bench: one server process, loopback, wrk (closed loop), {duration}s per "
        f"run, {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} at the end"
    )
    if results.get("gateway_options"):
        print(f"gateway started with {' '.join(results['gateway_options'])}")
    row = "  {:<34} {:>9} {:>9} {:>9} {:>9} {:>9}"
    print(row.format("latency (ms) / throughput", "p50", "p99", "req/s", "+p50", "+p99"))
    for name, label in (
        ("c1", "concurrency 1"),
        ("c32", "concurrency 32"),
        ("c20", "concurrency 20"),
        ("c20_paced", f"c20, {PACE_MS} ms pauses"),
    ):
        runs = results[name]
        d = runs["direct"]
        for who in ("direct", "gateway", "gateway BYOK"):
            if who not in runs:
                continue
            r = runs[who]
            extra = (
                ("", "")
                if who == "direct"
                else (
                    f"{r['p50_ms'] - d['p50_ms']:.3f}",
                    f"{r['p99_ms'] - d['p99_ms']:.3f}",
                )
            )
            print(
                row.format(
                    f"{label}: {who}",
                    f"{r['p50_ms']:.3f}",
                    f"{r['p99_ms']:.3f}",
                    f"{r['rps']:.0f}",
                    *extra,
                )
            )
    d, g = results["sse_ttfb"]["direct"], results["sse_ttfb"]["gateway"]
    print(
        row.format(
            "SSE time to first byte: direct", f"{d['p50_ms']:.3f}", f"{d['p99_ms']:.3f}", "", "", ""
        )
    )
    print(
        row.format(
            "SSE time to first byte: gateway",
            f"{g['p50_ms']:.3f}",
            f"{g['p99_ms']:.3f}",
            "",
            f"{g['p50_ms'] - d['p50_ms']:.3f}",
            f"{g['p99_ms'] - d['p99_ms']:.3f}",
        )
    )
    s = results["stream"]
    print(
        f"  stream {s['bytes'] / (1 << 30):.2f} GiB through one request in {s['seconds']:.1f} s "
        f"({s['throughput_mb_s']:.0f} MB/s): gateway RSS {s['rss_before_mb']:.1f} -> peak "
        f"{s['rss_peak_mb']:.1f} MB (+{s['rss_growth_mb']:.1f} MB)"
    )
    print_side_by_side(results)
    for why in skipped:
        print(f"  {why}")

    print("targets:")
    c1d, c1g = results["c1"]["direct"], results["c1"]["gateway"]
    over50 = c1g["p50_ms"] - c1d["p50_ms"]
    over99 = c1g["p99_ms"] - c1d["p99_ms"]
    print(f"  c1 overhead p50 {over50:.3f} ms <= 1 ms: {_verdict(over50, 1.0)}")
    print(f"  c1 overhead p99 {over99:.3f} ms <= 5 ms: {_verdict(over99, 5.0)}")
    byok50 = results["c1"]["gateway BYOK"]["p50_ms"] - c1d["p50_ms"]
    print(f"  c1 BYOK overhead p50 {byok50:.3f} ms <= 1 ms: {_verdict(byok50, 1.0)}")
    sse = g["p50_ms"] - d["p50_ms"]
    print(f"  SSE TTFB p50 gateway - direct {sse:.3f} ms <= 2 ms: {_verdict(sse, 2.0)}")
    growth = s["rss_growth_mb"]
    print(
        f"  RSS growth streaming {s['bytes'] / (1 << 30):.2f} GiB {growth:.1f} MB < 50 MB: "
        f"{_verdict(growth, 50.0 - 1e-9)}"
    )
    c20 = results["c20"]
    over20 = c20["gateway"]["p50_ms"] - c20["direct"]["p50_ms"]
    print(
        f"  c20 median overhead {over20:.3f} ms < 2 ms: {_verdict(over20, 2.0 - 1e-9)} "
        "(closed loop: mostly queueing, 20 / req/s)"
    )
    paced = results["c20_paced"]
    over_paced = paced["gateway"]["p50_ms"] - paced["direct"]["p50_ms"]
    print(
        f"  c20 paced ({paced['gateway']['rps']:.0f} req/s) median overhead {over_paced:.3f} ms "
        f"< 2 ms: {_verdict(over_paced, 2.0 - 1e-9)}"
    )
    if "litellm" in c20:
        lt = c20["litellm"]
        ratio = c20["gateway"]["rps"] / lt["rps"] if lt["rps"] else float("inf")
        print(
            f"  c20 req/s gateway {c20['gateway']['rps']:.0f} vs LiteLLM {lt['rps']:.0f} = "
            f"{ratio:.1f}x >= 10x: {'ok' if ratio >= 10 else 'MISSED'} (LiteLLM median overhead "
            f"{lt['p50_ms'] - c20['direct']['p50_ms']:.1f} ms)"
        )


def print_side_by_side(results: dict[str, Any]) -> None:
    """One table: each gateway, non-streaming and streaming, against the same upstream."""
    versions = results["versions"]
    labels = {
        "direct": "direct (own p50/p99)",
        "gateway": f"unitysvc {versions['unitysvc']}",
        "portkey": f"Portkey {versions.get('portkey', '')}",
        "litellm": f"LiteLLM {versions.get('litellm', '')}",
    }
    print(
        "side by side, same upstream (ms; +p50/+p99: added to direct's at the same "
        "concurrency; SSE first byte: sequential requests, absolute)"
    )
    row = "  {:<30} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>10} {:>10}"
    print(
        row.format(
            "",
            "c1 req/s",
            "c1 +p50",
            "c1 +p99",
            "c20 req/s",
            "c20 +p50",
            "c20 +p99",
            "1st B p50",
            "1st B p99",
        )  # fmt: skip
    )
    for mode, prefix in (("non-streaming", "c"), ("streaming", "stream_c")):
        print(f"  {mode}")
        c1, c20 = results[f"{prefix}1"], results[f"{prefix}20"]
        for who in COMPARED:
            if who not in c1:
                continue
            cells: list[str] = []
            for runs in (c1, c20):
                r, d = runs[who], runs["direct"]
                if who == "direct":
                    cells += [f"{r['rps']:.0f}", f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}"]
                else:
                    cells += [
                        f"{r['rps']:.0f}",
                        f"{r['p50_ms'] - d['p50_ms']:+.3f}",
                        f"{r['p99_ms'] - d['p99_ms']:+.3f}",
                    ]
            first = results["sse_ttfb"].get(who) if mode == "streaming" else None
            cells += [f"{first['p50_ms']:.3f}", f"{first['p99_ms']:.3f}"] if first else ["", ""]
            print(row.format(f"  {labels[who]}", *cells))


if __name__ == "__main__":
    main()
