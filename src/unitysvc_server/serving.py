"""How the platform is served: uvicorn with an HTTP protocol that bounds what clients send.

uvicorn's fast HTTP/1.1 protocol (``httptools``) has no limit on the request line or the
headers: it buffers whatever arrives until the head is complete, before any application
code — authentication included — can refuse it. One 64 MiB header was read whole (6.8 s,
stalling other requests) and a 128 MiB one took the process from 145 to 392 MB. Nor does
it bound connections, or a client that opens one and trickles bytes (slowloris).

:func:`bounded_protocol` subclasses that protocol and meters every request head *before*
the parser sees the bytes: a request line longer than ``max_request_line_bytes`` is
answered 414, a header line longer than ``max_header_bytes``, headers longer than
``max_headers_bytes`` together or more than ``max_header_count`` of them 431 — each with
``Connection: close``, and nothing more is read. A connection beyond ``max_connections``
is answered 503 and closed at once. A client must send a request's head within
``client_timeout`` seconds of starting it (408 and close otherwise), and may not fall
silent for longer than that while sending a body (the connection is closed). The limits
are :class:`~unitysvc_server.config.Settings` fields and ``usvc server start`` options.

The meter scans only head bytes, with ``bytes.find`` per line, so a normal request costs
a few microseconds. A pipelined request whose head arrives in the same read as the end of
the previous request is metered from the next read on, in total bytes only: it may
exceed the per-line limits by at most one read (256 KiB), never without bound.
"""

from __future__ import annotations

import logging
from typing import Any

from unitysvc_server.config import Settings

logger = logging.getLogger("unitysvc_server.serving")

__all__ = ["bounded_protocol", "uvicorn_options"]


def _response(status: int, reason: str, detail: str) -> bytes:
    body = ('{"detail": "' + detail + '"}').encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


def bounded_protocol(settings: Settings) -> type[Any]:
    """uvicorn's ``httptools`` protocol with the limits of ``settings`` (see module docs)."""
    from unitysvc_server.bounded_http import BoundedHttpToolsProtocol, HeadLimits

    max_line = settings.max_request_line_bytes
    max_header = settings.max_header_bytes
    max_headers = settings.max_headers_bytes
    max_count = settings.max_header_count
    max_connections = settings.max_connections
    timeout = settings.client_timeout
    limits = HeadLimits(
        max_line=max_line,
        max_header=max_header,
        max_headers=max_headers,
        max_count=max_count,
        max_connections=max_connections,
        timeout=timeout,
        too_long_uri=_response(
            414, "URI Too Long", f"the request line exceeds {max_line} bytes; shorten the URL"
        ),
        header_too_large=_response(
            431,
            "Request Header Fields Too Large",
            f"request headers exceed the server's limits ({max_header} bytes per header, "
            f"{max_headers} bytes and {max_count} headers in all)",
        ),
        too_many=_response(
            503,
            "Service Unavailable",
            f"the server holds its maximum of {max_connections} connections; retry shortly",
        ),
        too_slow=_response(
            408,
            "Request Timeout",
            f"the request headers did not arrive within {timeout:g} seconds",
        ),
    )
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), {"limits": limits})


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """``uvicorn.Config`` keyword arguments that apply the limits of ``settings``."""
    return {"http": bounded_protocol(settings)}
