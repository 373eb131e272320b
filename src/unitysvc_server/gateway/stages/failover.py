"""``f/``: answer from a secondary when the primary fails.

The primary fails when it answers 5xx or 429 — which includes the gateway's own 502/504
for a connection failure or timeout, since the upstream stage turns those into responses.
Secondaries (``_else``) are gateway paths, dispatched through the whole pipeline as the
same customer (their own wrappers apply), and tried in order; the last answer is returned,
marked with ``x-unitysvc-failover: <number of secondaries used>``.
"""

from __future__ import annotations

from unitysvc_server.gateway.pipeline import (
    GatewayRequest,
    GatewayResponse,
    Handler,
    SecondaryDispatch,
)

FAILOVER_HEADER = b"x-unitysvc-failover"


def should_fail_over(status: int) -> bool:
    """Whether a primary answer with this status counts as a failure."""
    return status >= 500 or status == 429


def failover_stage(inner: Handler, *, dispatch_secondary: SecondaryDispatch) -> Handler:
    """Build the ``f/`` stage.

    Args:
        inner: The next handler (the primary call).
        dispatch_secondary: Runs a gateway path as a child of a request.
    """

    async def handle(request: GatewayRequest) -> GatewayResponse:
        secondaries = request.path.wrappers.failover
        if not secondaries:
            return await inner(request)
        response = await inner(request)
        used = 0
        for path in secondaries:
            if not should_fail_over(response.status):
                break
            await response.body.aclose()
            response = await dispatch_secondary(request, path)
            used += 1
        if used:
            response.headers.append((FAILOVER_HEADER, str(used).encode()))
        return response

    return handle
