"""SSE decoding throughput: ``iter_events()`` against its peers, side by side in one run.

Decodes an OpenAI-style ``chat.completion.chunk`` SSE body (200,000 events, then
``data: [DONE]``) delivered in 4 KiB and in 64 KiB chunks, and reports events/s,
JSON decoding included for every contender:

* ``unitysvc EventDecoder.feed (direct)``: our decoder fed the chunks directly;
* ``unitysvc StreamingResponse.iter_events``: the same through httpx
  (``httpx.MockTransport`` handing out the chunks, so no socket noise);
* ``naive httpx iter_lines + json.loads``: the loop people write by hand
  (``data:`` lines only; no multi-line data, no fields, no CR line ends);
* ``openai SSEDecoder + json.loads``: openai-python's decoder, fed directly;
* ``httpx-sse``: measured only when installed;
* ``official unitysvc 0.2.1``: its ``StreamingResponse`` over the same mock
  transport, in its own interpreter (it shares our import name); pass
  ``--official-python`` or set ``$UNITYSVC_OFFICIAL_PYTHON``.

Contenders run in interleaved blocks (one run each per block, order rotated each
block); each cell is the median over the blocks. A second table times one 4 MiB
frame fed in 4 KiB chunks (the official SDK's parser is quadratic there).

Usage::

    python bench/bench_sse.py [--quick] [--official-python PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from _sse_bodies import big_frame_body, chunked, sse_body

from unitysvc import StreamingResponse
from unitysvc._sse import EventDecoder, pieces

Run = Callable[[str, int, int, list[bytes]], tuple[int, float]]
"""(body kind, size, chunk size, chunks) -> (events decoded, seconds)."""

_OFFICIAL_WORKER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import httpx
    from _sse_bodies import big_frame_body, chunked, sse_body
    from unitysvc._streaming import StreamingResponse

    class Stream(httpx.SyncByteStream):
        def __init__(self, chunks):
            self.chunks = chunks
        def __iter__(self):
            return iter(self.chunks)

    def run(chunks):
        def handler(request):
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, headers=headers, stream=Stream(chunks))
        with httpx.Client(transport=httpx.MockTransport(handler)) as client:
            start = time.perf_counter()
            n = 0
            with StreamingResponse(client, "GET", "http://bench/", {}) as response:
                for _ in response.iter_events():
                    n += 1
            return n, time.perf_counter() - start

    cache = {}
    for line in sys.stdin:
        kind, size, chunk_size = line.split()
        key = (kind, int(size), int(chunk_size))
        if key not in cache:
            body = sse_body(key[1]) if kind == "events" else big_frame_body(key[1])
            cache.clear()
            cache[key] = chunked(body, key[2])
        n, seconds = run(cache[key])
        print(n, seconds, flush=True)
    """
)


class OfficialWorker:
    """The official SDK in its own interpreter; it rebuilds the same bodies itself."""

    def __init__(self, python: str) -> None:
        bench_dir = str(Path(__file__).resolve().parent)
        self.proc = subprocess.Popen(
            [python, "-c", _OFFICIAL_WORKER, bench_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, kind: str, size: int, chunk_size: int, _chunks: list[bytes]) -> tuple[int, float]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{kind} {size} {chunk_size}\n")
        self.proc.stdin.flush()
        n, seconds = self.proc.stdout.readline().split()
        return int(n), float(seconds)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


# -- in-process contenders: chunks -> number of events decoded --------------------------


class _ChunkStream(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)


def _mock_client(chunks: list[bytes]) -> httpx.Client:
    def handler(_request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=_ChunkStream(chunks))

    return httpx.Client(transport=httpx.MockTransport(handler))


def ours_direct(chunks: list[bytes]) -> int:
    decoder = EventDecoder("text/event-stream")
    n = 0
    for chunk in chunks:
        for piece in pieces(chunk, decoder.piece_size):
            for _event in decoder.feed(piece):
                n += 1
        if decoder.finished:
            return n
    return n + len(decoder.flush())


def ours_streaming_response(chunks: list[bytes]) -> int:
    with (
        _mock_client(chunks) as client,
        StreamingResponse(client, "GET", "http://bench/", {}) as response,
    ):
        n = 0
        for _event in response.iter_events():
            n += 1
        return n


def naive_iter_lines(chunks: list[bytes]) -> int:
    with _mock_client(chunks) as client, client.stream("GET", "http://bench/") as response:
        n = 0
        for line in response.iter_lines():
            if line.startswith("data: "):
                n += 1
                data = line[6:]
                if data == "[DONE]":
                    return n
                json.loads(data)
        return n


def openai_decoder(chunks: list[bytes]) -> int:
    from openai._streaming import SSEDecoder

    n = 0
    for sse in SSEDecoder().iter_bytes(iter(chunks)):
        n += 1
        if sse.data == "[DONE]":
            return n
        sse.json()
    return n


def httpx_sse_decoder(chunks: list[bytes]) -> int:
    import httpx_sse  # type: ignore[import-not-found]

    with _mock_client(chunks) as client, httpx_sse.connect_sse(client, "GET", "http://x/") as src:
        n = 0
        for sse in src.iter_sse():
            n += 1
            if sse.data == "[DONE]":
                return n
            sse.json()
        return n


def _timed(fn: Callable[[list[bytes]], int]) -> Run:
    def run(_kind: str, _size: int, _chunk_size: int, chunks: list[bytes]) -> tuple[int, float]:
        start = time.perf_counter()
        n = fn(chunks)
        return n, time.perf_counter() - start

    return run


def contenders(official: OfficialWorker | None) -> dict[str, Run | str]:
    """Name -> runner, or the reason it cannot run here."""
    return {
        "unitysvc EventDecoder.feed (direct)": _timed(ours_direct),
        "unitysvc StreamingResponse.iter_events": _timed(ours_streaming_response),
        "naive httpx iter_lines + json.loads": _timed(naive_iter_lines),
        "openai SSEDecoder + json.loads": _timed(openai_decoder)
        if importlib.util.find_spec("openai")
        else "not installed",
        "httpx-sse": _timed(httpx_sse_decoder)
        if importlib.util.find_spec("httpx_sse")
        else "not installed",
        "official unitysvc 0.2.1": official.run
        if official
        else "not measured (no --official-python)",
    }


def throughput(
    runners: dict[str, Run | str], events: int, chunk_sizes: list[int], blocks: int
) -> list[list[str]]:
    """Rows of median events/s per chunk size, from interleaved blocks."""
    body = sse_body(events)
    names = [name for name, run in runners.items() if not isinstance(run, str)]
    samples: dict[tuple[str, int], list[float]] = {}
    for chunk_size in chunk_sizes:
        chunks = chunked(body, chunk_size)
        for block in range(blocks):
            shift = block % len(names)
            for name in names[shift:] + names[:shift]:
                run = runners[name]
                assert not isinstance(run, str)
                n, seconds = run("events", events, chunk_size, chunks)
                if n != events + 1:
                    raise AssertionError(f"{name} decoded {n} events, expected {events + 1}")
                samples.setdefault((name, chunk_size), []).append(n / seconds)
    rows = []
    for name, run in runners.items():
        if isinstance(run, str):
            rows.append([f"{name} ({run})", "-", "-"])
        else:
            rows.append(
                [name, *(f"{statistics.median(samples[name, c]):,.0f}" for c in chunk_sizes)]
            )
    return rows


def big_frame(runners: dict[str, Run | str], size: int, chunk_size: int) -> list[list[str]]:
    """Rows of seconds to decode one ``size``-byte frame fed in ``chunk_size`` chunks."""
    chunks = chunked(big_frame_body(size), chunk_size)
    rows = []
    for name, run in runners.items():
        if name.startswith("naive") or name == "httpx-sse":
            continue  # line-oriented loops: not what this row is about
        if isinstance(run, str):
            rows.append([f"{name} ({run})", "-"])
            continue
        # The official parser takes seconds here: once is enough to make the point.
        times = []
        for _ in range(1 if name.startswith("official") else 5):
            n, seconds = run("frame", size, chunk_size, chunks)
            assert n == 1, f"{name} decoded {n} events"
            times.append(seconds)
        rows.append([name, f"{statistics.median(times):.4f}"])
    return rows


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events, 3 blocks")
    parser.add_argument("--official-python", default=os.environ.get("UNITYSVC_OFFICIAL_PYTHON"))
    args = parser.parse_args()
    events, blocks = (20_000, 3) if args.quick else (200_000, 7)
    python = args.official_python
    official = OfficialWorker(python) if python and Path(python).exists() else None
    runners = contenders(official)
    try:
        rows = throughput(runners, events, [4096, 65536], blocks)
        print(
            f"\nSSE decoding, {events:,} OpenAI-style events + [DONE], JSON included: "
            f"events/s, median of {blocks} interleaved blocks\n"
        )
        print_table(["decoder", "4 KiB chunks", "64 KiB chunks"], rows)
        print("\nOne 4 MiB frame fed in 4 KiB chunks: seconds (median of 5; official: 1 run)\n")
        print_table(["decoder", "seconds"], big_frame(runners, 4 * 1024 * 1024, 4096))
    finally:
        if official is not None:
            official.close()
    command = " ".join(["python", "bench/bench_sse.py", *sys.argv[1:]])
    print(
        f"\nTarget: >= 400,000 events/s for iter_events(). Python {platform.python_version()}, "
        f"httpx {httpx.__version__}, {os.cpu_count()} CPUs, shared machine.\nCommand: {command}"
    )


if __name__ == "__main__":
    main()
