"""Error answers produced by the gateway itself.

Every error the gateway makes up (as opposed to an upstream's own error response, which is
passed through untouched) has one JSON shape::

    {"detail": "<what went wrong and what to do>", "error_source": "gateway" | "upstream",
     "error_type": "<short machine-readable reason>"}

``error_source`` says whose fault it is: ``upstream`` when the upstream could not be reached
or did not answer in time, ``gateway`` for everything decided here (no route, missing
secret, rate limit, bad wrapper parameters).
"""

from __future__ import annotations

import json
from typing import Any

from unitysvc_server.gateway.pipeline import BytesBody, GatewayResponse, Headers

JSON_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"content-type", b"application/json"),)


def error_response(
    status: int,
    detail: str,
    *,
    error_type: str,
    error_source: str = "gateway",
    extra: dict[str, Any] | None = None,
    headers: Headers | None = None,
) -> GatewayResponse:
    """A JSON error answer.

    Args:
        status: HTTP status.
        detail: Human-readable message; must never contain a secret.
        error_type: Short machine-readable reason (``no_route``, ``upstream_timeout``...).
        error_source: ``gateway`` or ``upstream``.
        extra: More fields for the body (e.g. ``candidates`` for a 409).
        headers: Extra response headers (e.g. ``Retry-After``).
    """
    payload: dict[str, Any] = {
        "detail": detail,
        "error_source": error_source,
        "error_type": error_type,
    }
    if extra:
        payload.update(extra)
    data = json.dumps(payload).encode()
    all_headers: Headers = [
        *JSON_HEADERS,
        (b"content-length", str(len(data)).encode()),
        *(headers or ()),
    ]
    return GatewayResponse(
        status, all_headers, BytesBody(data), error_source=error_source, error_type=error_type
    )


class GatewayError(Exception):
    """Raised inside the gateway to answer with :func:`error_response`.

    The innermost stage turns it into a response, so outer stages (failover, logging)
    always see a :class:`GatewayResponse`.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        error_type: str,
        error_source: str = "gateway",
        extra: dict[str, Any] | None = None,
        headers: Headers | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error_type = error_type
        self.error_source = error_source
        self.extra = extra
        self.headers = headers

    def response(self) -> GatewayResponse:
        """This error as a response."""
        return error_response(
            self.status,
            self.detail,
            error_type=self.error_type,
            error_source=self.error_source,
            extra=self.extra,
            headers=self.headers,
        )
