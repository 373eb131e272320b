"""Helpers of the gateway tests: polling, and a loopback upstream.

The upstream: counts hits, echoes, streams, pauses on demand.

Runs uvicorn in a background thread on a free 127.0.0.1 port. Routes (any method):

* ``.../slow-sse/<gate>`` — one SSE event, then waits until ``release(gate)``, then a
  second event and ``[DONE]``;
* ``.../hold/<gate>`` — waits until ``release(gate)``, then answers 200 JSON;
* ``/status/<code>`` — answers that status with a JSON body;
* ``/sleep/<seconds>`` — waits, then answers 200;
* ``/big/<bytes>`` — streams that many bytes in 64 KiB chunks;
* ``.../with-headers`` — 200 with an end-to-end and two hop-by-hop response headers;
* anything else — 200 JSON echo of method, path, query, headers and body (plus the hit count).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeUpstream:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits: list[dict[str, Any]] = []
        self._gates: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _gate(self, name: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(name, threading.Event())

    def release(self, gate: str) -> None:
        self._gate(gate).set()

    async def _wait(self, gate: str) -> None:
        event = self._gate(gate)
        await asyncio.get_running_loop().run_in_executor(None, event.wait, 10)

    def count(self, path_prefix: str = "") -> int:
        return sum(1 for hit in self.hits if hit["path"].startswith(path_prefix))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        hit = {
            "method": scope["method"],
            "path": path,
            "query": scope["query_string"].decode(),
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
        }
        self.hits.append(hit)

        async def start(status: int, content_type: bytes, extra: list[Any] | None = None) -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", content_type), *(extra or [])],
                }
            )

        if "/usage-chat/" in path:
            await self._usage_chat(path, body, start, send)
            return
        if path.startswith("/pricey/") and path.endswith("/slowish"):
            # Slower than any stall a loaded test machine gives the fast member, so the
            # lowest-latency order is decided by this and not by the machine's load.
            await asyncio.sleep(0.25)
        if "/hold/" in path:
            await self._wait(path.rsplit("/", 1)[1])
            await start(200, b"application/json")
            await send({"type": "http.response.body", "body": b'{"held": true}'})
            return
        if "/slow-sse/" in path:
            await start(200, b"text/event-stream")
            await send(
                {"type": "http.response.body", "body": b'data: {"n": 1}\n\n', "more_body": True}
            )
            await self._wait(path.rsplit("/", 1)[1])
            await send(
                {"type": "http.response.body", "body": b'data: {"n": 2}\n\n', "more_body": True}
            )
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
            return
        if path.endswith("/with-headers"):
            # An end-to-end header the gateway must pass on, and hop-by-hop ones it must not.
            await start(
                200,
                b"application/json",
                [
                    (b"x-upstream-custom", b"kept"),
                    (b"proxy-authenticate", b"Basic realm=upstream"),
                    (b"keep-alive", b"timeout=5"),
                ],
            )
            await send({"type": "http.response.body", "body": b'{"with": "headers"}'})
            return
        if "/status/" in path:
            status = int(path.rsplit("/", 1)[1])
            await start(status, b"application/json")
            await send(
                {"type": "http.response.body", "body": json.dumps({"status": status}).encode()}
            )
            return
        if "/sleep/" in path:
            await asyncio.sleep(float(path.rsplit("/", 1)[1]))
            await start(200, b"application/json")
            await send({"type": "http.response.body", "body": b'{"slept": true}'})
            return
        if "/big/" in path:
            remaining = int(path.rsplit("/", 1)[1])
            await start(200, b"application/octet-stream")
            chunk = b"x" * 65536
            while remaining > 0:
                piece = chunk[: min(remaining, len(chunk))]
                remaining -= len(piece)
                await send(
                    {"type": "http.response.body", "body": piece, "more_body": remaining > 0}
                )
            return
        await start(200, b"application/json")
        await send(
            {
                "type": "http.response.body",
                "body": json.dumps({**hit, "hits": len(self.hits)}).encode(),
            }
        )

    async def _usage_chat(self, path: str, body: bytes, start: Any, send: Any) -> None:
        """An OpenAI-shaped chat completion reporting ``/usage-chat/<tokens>/`` tokens each
        way: buffered, or (``"stream": true``) as SSE with the usage chunk when asked."""
        tokens = int(path.split("/usage-chat/", 1)[1].split("/", 1)[0])
        usage = {"prompt_tokens": tokens, "completion_tokens": tokens, "total_tokens": 2 * tokens}
        request = json.loads(body or b"{}")
        choice = {"index": 0, "message": {"role": "assistant", "content": "ok"}}
        if not request.get("stream"):
            await start(200, b"application/json")
            answer = {"id": "c1", "object": "chat.completion", "choices": [choice], "usage": usage}
            await send({"type": "http.response.body", "body": json.dumps(answer).encode()})
            return
        await start(200, b"text/event-stream")
        chunks: list[dict[str, Any]] = [
            {"id": "c1", "choices": [{"index": 0, "delta": {"content": word}}]}
            for word in ("o", "k")
        ]
        if (request.get("stream_options") or {}).get("include_usage"):
            chunks.append({"id": "c1", "choices": [], "usage": usage})
        for chunk in chunks:
            data = b"data: " + json.dumps(chunk).encode() + b"\n\n"
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})

    def __enter__(self) -> FakeUpstream:
        config = uvicorn.Config(
            self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake upstream did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            for event in self._gates.values():
                event.set()
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(10)


def wait_for(
    predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until truthy, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def wait_for_a_tick_after(
    http: Any, witness_id: str, moment: datetime, what: str, timeout: float = 10.0
) -> None:
    """Wait until the scheduler has fired ``witness_id`` at a time later than ``moment``.

    The witness is an active recurrent request of ``http``'s customer with a 1 s
    interval: a run of it started after ``moment`` shows a scheduler tick at that time,
    one that would have leased any other request then due. A test that must see
    something *not* fire waits for that, instead of sleeping a guessed while (too short
    on a slow machine, needlessly long on a fast one).
    """

    def ticked() -> bool:
        state = http.get(f"/recurrent-requests/{witness_id}").json()["state"]
        last = state["last_run_at"]
        return last is not None and datetime.fromisoformat(last) > moment

    wait_for(ticked, timeout=timeout, what=what)
