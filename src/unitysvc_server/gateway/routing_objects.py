"""Addresses that stand for other gateway paths: aliases, chains and broadcasts.

Each one ends in child dispatches through the whole pipeline, as the same customer, so
wrappers inside a stored target path (``m/g/llm``) fire on every invocation, and the
caller's sub-path and query are appended to the stored target.

* ``a/<alias>`` — the customer's routing alias for the request's routing key
  (``domain.aliases.pick_routing_alias`` over the caller's cached aliases); its
  ``routing_key_override`` replaces the request's routing fields (``model``) in the
  JSON body.
* ``c/<chain>`` — steps in order, each bounded by its timeout. A step succeeds with a 2xx.
  After a step its ``on_success``/``on_failure`` outcome decides: ``stop`` answers with
  this step's response; ``relay`` sends the original request to the next step;
  ``continue`` sends this step's response body to the next step. The last step's
  response is the chain's answer.
* ``b/<broadcast>`` — every target in parallel. ``sync`` waits for all (each bounded by
  ``target_timeout_ms``) and answers an envelope of per-target results: 200 when at
  least one target succeeded, else 502. ``async`` answers 202 at once and lets the
  targets run in the background.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from unitysvc_server.asgi_io import json_depth_exceeds
from unitysvc_server.domain.broadcasts import BroadcastTargetPlan, broadcast_plan
from unitysvc_server.domain.caller_context import CallerContext
from unitysvc_server.domain.chains import chain_plan
from unitysvc_server.domain.sessions import Sessions
from unitysvc_server.gateway.errors import GatewayError, error_response
from unitysvc_server.gateway.pipeline import (
    BytesBody,
    GatewayRequest,
    GatewayResponse,
    Spawn,
)

#: How much of a step's body is relayed, or of a target's body kept in the envelope.
MAX_RELAY_BYTES = 16 * 1024 * 1024
MAX_ENVELOPE_BODY_BYTES = 1024 * 1024


#: A customer's (cached) routing facts, by customer id.
CallerContextLookup = Callable[[uuid.UUID], Awaitable[CallerContext]]


class ChildDispatch(Protocol):
    """Runs a gateway path as a child of a request (same customer, depth + 1)."""

    def __call__(
        self,
        parent: GatewayRequest,
        path: str,
        *,
        body: bytes | None = None,
        routing_key_override: dict[str, Any] | None = None,
    ) -> Awaitable[GatewayResponse]: ...


def extend_target(target_path: str, rest: str, query: str) -> str:
    """A stored target with the caller's sub-path and query appended."""
    path, _, stored_query = target_path.strip().lstrip("/").partition("?")
    if rest:
        path = f"{path.rstrip('/')}/{rest}"
    combined = "&".join(q for q in (stored_query, query) if q)
    return f"{path}?{combined}" if combined else path


async def read_all(response: GatewayResponse, limit: int) -> tuple[bytes, bool]:
    """Read a whole response body (at most ``limit`` bytes kept); returns it and whether
    it was cut."""
    parts: list[bytes] = []
    size = 0
    cut = False
    try:
        async for chunk in response.body:
            room = limit - size
            if room <= 0:
                cut = True
                continue
            parts.append(chunk[:room])
            cut = cut or len(chunk) > room
            size += min(len(chunk), room)
    finally:
        await response.body.aclose()
    return b"".join(parts), cut


async def _bounded(call: Awaitable[GatewayResponse], seconds: float, what: str) -> GatewayResponse:
    try:
        async with asyncio.timeout(seconds):
            return await call
    except TimeoutError:
        return error_response(
            504,
            f"{what} did not answer within {seconds:g}s",
            error_type="timeout",
            error_source="upstream",
        )


class RoutingObjects:
    """Dispatches ``a/``, ``c/`` and ``b/`` addresses.

    Args:
        sessions: Database sessions (for the chain and broadcast lookups).
        child: Runs a gateway path as a child request.
        spawn: Runs background coroutines (async broadcasts).
        caller_context: Returns a customer's (cached) routing facts (aliases).
    """

    def __init__(
        self,
        sessions: Sessions,
        child: ChildDispatch,
        spawn: Spawn,
        caller_context: CallerContextLookup,
    ) -> None:
        self._sessions = sessions
        self._child = child
        self._spawn = spawn
        self._caller_context = caller_context

    async def alias(
        self, request: GatewayRequest, routing_key: dict[str, Any] | None
    ) -> GatewayResponse:
        """Dispatch ``a/<name>``."""
        path = request.path
        context = await self._caller_context(request.caller.customer_id)
        row = context.routing_alias(path.name, routing_key)
        target = None if row is None else row.target_path
        override = None if row is None else row.routing_key_override
        if target is None:
            raise GatewayError(
                404,
                f"no routing alias named {path.name!r} serves this request"
                + (f" (routing key {json.dumps(routing_key)})" if routing_key else "")
                + "; create one with POST /v1/aliases/ or switch one on",
                error_type="no_route",
            )
        return await self._child(
            request,
            extend_target(target, path.rest, path.query),
            routing_key_override=override or None,
        )

    async def chain(self, request: GatewayRequest) -> GatewayResponse:
        """Dispatch ``c/<name>``."""
        path = request.path
        chain = await chain_plan(self._sessions, request.caller.customer_id, path.name)
        if chain is None:
            raise GatewayError(
                404,
                f"no chain named {path.name!r}; create one with POST /v1/chains/",
                error_type="no_route",
            )
        steps = chain.steps
        if not chain.enabled:
            raise GatewayError(
                409,
                f"chain {path.name!r} is disabled; enable it with PATCH /v1/chains/{{id}}",
                error_type="disabled",
            )
        if not steps:
            raise GatewayError(
                409,
                f"chain {path.name!r} has no steps; add one with POST /v1/chains/{{id}}/steps",
                error_type="empty_chain",
            )
        body = request.body
        for index, step in enumerate(steps):
            response = await _bounded(
                self._child(
                    request, extend_target(step.target_path, path.rest, path.query), body=body
                ),
                step.timeout_ms / 1000,
                f"chain step {step.name!r}",
            )
            outcome = step.on_success if 200 <= response.status < 300 else step.on_failure
            if outcome == "stop" or index == len(steps) - 1:
                response.headers.append((b"x-unitysvc-chain-step", step.name.encode()))
                return response
            if outcome == "continue":
                body, _ = await read_all(response, MAX_RELAY_BYTES)
            else:
                body = request.body
                await response.body.aclose()
        raise AssertionError("unreachable: the last step always answers")

    async def broadcast(self, request: GatewayRequest) -> GatewayResponse:
        """Dispatch ``b/<name>``."""
        path = request.path
        broadcast = await broadcast_plan(self._sessions, request.caller.customer_id, path.name)
        if broadcast is None:
            raise GatewayError(
                404,
                f"no broadcast named {path.name!r}; create one with POST /v1/broadcasts/",
                error_type="no_route",
            )
        mode, timeout_ms, targets = broadcast.mode, broadcast.target_timeout_ms, broadcast.targets
        if not broadcast.enabled:
            raise GatewayError(
                409,
                f"broadcast {path.name!r} is disabled; enable it with PATCH",
                error_type="disabled",
            )
        if mode == "async":
            for target in targets:
                self._spawn(self._fire_and_forget(request, target, timeout_ms))
            payload: dict[str, Any] = {
                "broadcast": path.name,
                "mode": "async",
                "targets": [
                    {"name": t.name, "target_path": t.target_path, "task_id": str(uuid.uuid4())}
                    for t in targets
                ],
            }
            return _json_response(202, payload)
        results = await asyncio.gather(
            *(self._fire(request, target, timeout_ms) for target in targets)
        )
        succeeded = sum(1 for r in results if r["ok"])
        envelope = {
            "broadcast": path.name,
            "mode": "sync",
            "succeeded": succeeded,
            "failed": len(results) - succeeded,
            "results": results,
        }
        if succeeded == 0 and results:
            return _json_response(502, envelope, error_type="broadcast_failed")
        return _json_response(200, envelope)

    async def _fire(
        self, request: GatewayRequest, target: BroadcastTargetPlan, timeout_ms: int
    ) -> dict[str, Any]:
        started = time.perf_counter()
        path = extend_target(target.target_path, request.path.rest, request.path.query)
        response = await _bounded(
            self._child(request, path, routing_key_override=target.override),
            timeout_ms / 1000,
            f"broadcast target {target.name!r}",
        )
        data, cut = await read_all(response, MAX_ENVELOPE_BODY_BYTES)
        body: Any
        try:
            # An upstream (a BYOE one, chosen by the customer) may answer anything: a
            # document too deep to parse safely is reported as text.
            parse = data and not cut and not json_depth_exceeds(data)
            body = json.loads(data) if parse else data.decode("utf-8", "replace")
        except ValueError:
            body = data.decode("utf-8", "replace")
        result: dict[str, Any] = {
            "name": target.name,
            "target_path": target.target_path,
            "status_code": response.status,
            "ok": 200 <= response.status < 300,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
            "body": body,
        }
        if cut:
            result["body_truncated"] = True
        if response.error_type:
            result["error_type"] = response.error_type
        return result

    async def _fire_and_forget(
        self, request: GatewayRequest, target: BroadcastTargetPlan, timeout_ms: int
    ) -> None:
        await self._fire(request, target, timeout_ms)


def _json_response(
    status: int, payload: dict[str, Any], error_type: str | None = None
) -> GatewayResponse:
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    response = GatewayResponse(status, headers, BytesBody(data))
    if error_type:
        response.error_source = "upstream"
        response.error_type = error_type
    return response
