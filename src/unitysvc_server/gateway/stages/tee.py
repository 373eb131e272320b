"""``t/``: send a fire-and-forget copy of the request to other gateway paths.

The copies start alongside the primary call and run in the background: the primary's
response goes back as soon as it is ready, whatever the copies do. A copy's outcome is
discarded (its own request-log row, if any, remains).
"""

from __future__ import annotations

import logging

from unitysvc_server.gateway.pipeline import (
    GatewayRequest,
    GatewayResponse,
    Handler,
    SecondaryDispatch,
    Spawn,
)

logger = logging.getLogger("unitysvc_server.gateway")


def tee_stage(inner: Handler, *, dispatch_secondary: SecondaryDispatch, spawn: Spawn) -> Handler:
    """Build the ``t/`` stage.

    Args:
        inner: The next handler (the primary call).
        dispatch_secondary: Runs a gateway path as a child of a request.
        spawn: Runs a background coroutine the server drains at shutdown.
    """

    async def copy(request: GatewayRequest, path: str) -> None:
        try:
            response = await dispatch_secondary(request, path)
            try:
                async for _ in response.body:
                    pass
            finally:
                await response.body.aclose()
        except Exception:
            logger.warning("tee copy to %s failed", path, exc_info=True)

    async def handle(request: GatewayRequest) -> GatewayResponse:
        for path in request.path.wrappers.tee:
            spawn(copy(request, path))
        return await inner(request)

    return handle
