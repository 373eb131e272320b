"""Mock upstream servers of the demo catalog, run by the platform itself on loopback.

One aiohttp server on a free 127.0.0.1 port serves every demo upstream under
its own prefix:

* ``/demo-small/v1``, ``/demo-medium/v1``, ``/demo-large/v1`` -- OpenAI-style
  chat: ``POST chat/completions`` replies ``"[<model>] <last user message>"``
  with usage counted in words; with ``"stream": true`` one SSE chunk per word
  (OpenAI chunk shape), then -- only when the request sets
  ``stream_options.include_usage``, as OpenAI does -- a usage chunk with empty
  ``choices``, then ``data: [DONE]``. ``GET models`` lists the model.
  Test hook: ``"pause_ms": N`` in the body pauses N ms after the first chunk of
  a stream (before answering, when not streaming) -- a slow upstream for
  streaming and timeout tests.
* ``/demo-byok/v1`` -- the same chat, but 401 unless the request carries
  ``Authorization: Bearer <DEMO_BYOK_KEY>``.
* ``/demo-down`` -- every request answers 503.
* ``/echo`` -- answers JSON with the method, path (below ``/echo``), query,
  headers (credentials removed) and body it received.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from typing import Any

from aiohttp import web

#: The key ``demo-byok`` accepts: store it as the customer secret ``DEMO_API_KEY``.
DEMO_BYOK_KEY = "sk-demo-byok-0123456789"

#: Chat models served, by prefix.
CHAT_MODELS = ("demo-small", "demo-medium", "demo-large", "demo-byok")
#: Headers the echo upstream never reflects.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}
)
_MAX_PAUSE_MS = 60_000


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return " ".join(str(p) for p in parts if p)
    return ""


def _words(text: str) -> int:
    return len(text.split())


def _reply(model: str, messages: list[Any]) -> tuple[str, int]:
    user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    last = _text(user[-1].get("content")) if user else ""
    prompt_words = sum(_words(_text(m.get("content"))) for m in messages if isinstance(m, dict))
    return f"[{model}] {last}".rstrip(), prompt_words


def _error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind}}, status=status)


def _pause_seconds(body: dict[str, Any]) -> float:
    value = body.get("pause_ms")
    if isinstance(value, int | float) and value > 0:
        return min(float(value), _MAX_PAUSE_MS) / 1000
    return 0.0


async def _chat(request: web.Request, default_model: str) -> web.StreamResponse:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return _error(400, "request body must be JSON", "invalid_request_error")
    if not isinstance(body, dict):
        return _error(400, "request body must be a JSON object", "invalid_request_error")
    messages = body.get("messages")
    if not isinstance(messages, list):
        return _error(400, "'messages' must be a list", "invalid_request_error")
    requested = body.get("model")
    model = requested if isinstance(requested, str) and requested else default_model
    content, prompt_tokens = _reply(model, messages)
    completion_tokens = _words(content)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    pause = _pause_seconds(body)
    if not body.get("stream"):
        if pause:
            await asyncio.sleep(pause)
        return web.json_response(
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)

    async def send(delta: dict[str, Any], finish: str | None, extra: dict[str, Any]) -> None:
        chunk = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

    words = content.split(" ")
    for index, word in enumerate(words):
        delta: dict[str, Any] = {"content": word if index == 0 else f" {word}"}
        if index == 0:
            delta["role"] = "assistant"
        await send(delta, None, {})
        if index == 0 and pause:
            await asyncio.sleep(pause)
    await send({}, "stop", {})
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        chunk = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage,
        }
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _chat_routes(prefix: str, model: str, *, require_key: str | None) -> list[web.RouteDef]:
    def authorized(request: web.Request) -> bool:
        return (
            require_key is None or request.headers.get("Authorization") == f"Bearer {require_key}"
        )

    async def chat(request: web.Request) -> web.StreamResponse:
        if not authorized(request):
            return _error(401, "invalid or missing API key for demo-byok", "authentication_error")
        return await _chat(request, model)

    async def models(request: web.Request) -> web.Response:
        if not authorized(request):
            return _error(401, "invalid or missing API key for demo-byok", "authentication_error")
        return web.json_response(
            {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "demo"}]}
        )

    return [
        web.post(f"{prefix}/chat/completions", chat),
        web.get(f"{prefix}/models", models),
    ]


async def _down(_request: web.Request) -> web.Response:
    return _error(503, "demo-down is always unavailable", "service_unavailable")


async def _echo(request: web.Request) -> web.Response:
    raw = await request.read()
    body: Any
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    path = request.path[len("/echo") :] or "/"
    return web.json_response(
        {
            "method": request.method,
            "path": path,
            "query": request.query_string,
            "headers": {
                k: v for k, v in request.headers.items() if k.lower() not in CREDENTIAL_HEADERS
            },
            "body": body,
        }
    )


def build_app() -> web.Application:
    """The aiohttp application serving every demo upstream."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    routes: list[web.RouteDef] = []
    for model in CHAT_MODELS:
        key = DEMO_BYOK_KEY if model == "demo-byok" else None
        routes.extend(_chat_routes(f"/{model}/v1", model, require_key=key))
    routes.append(web.route("*", "/demo-down{tail:.*}", _down))
    routes.append(web.route("*", "/echo{tail:.*}", _echo))
    app.add_routes(routes)
    return app


class DemoUpstreams:
    """The running mock upstream server.

    Attributes:
        base_url: ``http://127.0.0.1:<port>`` once started.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Start on a free port; returns the base URL."""
        # Bind the socket ourselves so the OS-chosen port is known without
        # reaching into the site's internals.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        runner = web.AppRunner(build_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            sock.close()
            raise
        self._runner = runner
        port = sock.getsockname()[1]
        self.base_url = f"http://{self.host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving and close open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
