"""``GET /metrics``: the platform's metrics in the Prometheus text format.

Off unless the server runs with ``--metrics`` (404 saying so). On, it needs
``Authorization: Bearer <admin token>`` (Prometheus' ``authorization`` scrape setting),
compared in constant time — 401 without or with another token — unless the operator
opened it with ``--metrics-public``. Only ``GET`` and ``HEAD`` (405 otherwise).
"""

from __future__ import annotations

import hmac

from starlette.types import Receive, Scope, Send

from unitysvc_server.api.middleware import send_json
from unitysvc_server.asgi_io import parse_bearer
from unitysvc_server.observability import Observability

__all__ = ["METRICS_PATH", "MetricsEndpoint"]

#: Where the metrics are served.
METRICS_PATH = "/metrics"


class MetricsEndpoint:
    """The ASGI app answering ``/metrics``.

    Args:
        observability: The platform's metrics (``metrics`` is ``None`` when off).
    """

    def __init__(self, observability: Observability) -> None:
        self._observability = observability
        settings = observability.settings
        self._public = settings.metrics_public
        self._token = (settings.admin_token or "").encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        metrics = self._observability.metrics
        if metrics is None:
            await send_json(
                send,
                404,
                {"detail": "metrics are off: start the server with --metrics to serve /metrics"},
            )
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send_json(
                send, 405, {"detail": "/metrics answers GET only"}, [(b"allow", b"GET, HEAD")]
            )
            return
        if not self._public and not self._authorized(scope):
            await send_json(
                send,
                401,
                {
                    "detail": "/metrics needs the admin token: send 'Authorization: Bearer "
                    "<admin token>' (or start the server with --metrics-public)"
                },
                [(b"www-authenticate", b'Bearer realm="metrics"')],
            )
            return
        from unitysvc_server.observability.gather import WorkerSilent
        from unitysvc_server.observability.metrics import CONTENT_TYPE

        try:
            body = await self._observability.render_metrics()
        except WorkerSilent as exc:
            # A partial sum would read as a counter reset: no figures rather than wrong ones.
            await send_json(send, 503, {"detail": f"/metrics: {exc}; scrape again"})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", CONTENT_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    def _authorized(self, scope: Scope) -> bool:
        for key, value in scope["headers"]:
            if key == b"authorization":
                given = parse_bearer(value.decode("latin-1"))
                return (
                    bool(given)
                    and bool(self._token)
                    and hmac.compare_digest(given.encode(), self._token)
                )
        return False
