"""The upstream call: forward a request, stream the answer back chunk by chunk.

One :class:`~unitysvc_server.gateway.h1client.UpstreamPool` (keep-alive connections, a
lean HTTP/1.1 client: see that module for why) serves every call. What is forwarded:
method, sub-path, query, body and end-to-end headers. What is not: hop-by-hop headers, the
``Host``, any header holding a ``svcpass_`` platform key (``Authorization`` included), and
the gateway's own ``x-unitysvc-*`` control headers. A platform key in the path or query
(``routing.paths``) or the authenticating key in the body (``gateway.asgi``) is refused
with 400 before anything is sent. The upstream credential is added as
``Authorization: Bearer <key>`` — the scheme every OpenAI-compatible API (and the demo and
groq catalogs) expects; docs/decisions.md records this choice.

The response is streamed raw (content-encoding untouched), status and end-to-end headers
propagated. Failures before the response headers become JSON errors: timeout → 504,
connection failure → 502, both ``error_source: "upstream"``; a destination the SSRF
policy refuses (``gateway.ssrf``) → 403 ``forbidden_upstream`` before any connection. A
failure in the middle of a streamed body cannot change the status any more; it raises
:class:`UpstreamInterrupted` and the connection to the caller is cut, which is how HTTP
signals a truncated body.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from unitysvc_server.gateway.errors import error_response
from unitysvc_server.gateway.h1client import (
    BadUpstreamURL,
    UpstreamConnectError,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeout,
)
from unitysvc_server.gateway.pipeline import GatewayResponse, Headers, Trace
from unitysvc_server.gateway.ssrf import Destinations, ForbiddenUpstream

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# ``expect``: the body is read in full before the call, so a 100-continue handshake
# with the upstream would only cost a round trip.
_REQUEST_DROP = HOP_BY_HOP | {b"host", b"content-length", b"authorization", b"expect"}
# The server in front of us sets its own; two of each would be sent otherwise.
_RESPONSE_DROP = HOP_BY_HOP | {b"date", b"server"}
_CONTROL_PREFIX = b"x-unitysvc-"
_CUSTOMER_KEY_MARK = b"svcpass_"
_REDACTED = "***redacted***"
_SENSITIVE = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization"})


class UpstreamInterrupted(Exception):
    """The upstream broke off in the middle of a response body."""


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """A fully rendered upstream request target.

    Attributes:
        url: Absolute URL (base URL + sub-path + query), after the upstream map.
        headers: Headers the channel adds (the credential, static channel headers).
        timeout: Seconds to wait for the upstream, per phase; ``None`` for the default.
        private_ok: The operator named this destination (an upstream-map target or the
            demo's own upstreams), so the SSRF address policy does not apply to it.
    """

    url: str
    headers: Headers = field(default_factory=list)
    timeout: float | None = None
    private_ok: bool = False


def _connection_tokens(headers: Headers) -> set[bytes]:
    tokens: set[bytes] = set()
    for key, value in headers:
        if key == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return tokens


def forward_request_headers(inbound: Headers, added: Headers) -> Headers:
    """Inbound end-to-end headers minus credentials and control headers, plus ``added``."""
    named_hop = _connection_tokens(inbound)
    out: Headers = [
        (key, value)
        for key, value in inbound
        if key not in _REQUEST_DROP
        and key not in named_hop
        and not key.startswith(_CONTROL_PREFIX)
        and _CUSTOMER_KEY_MARK not in value
    ]
    out.extend(added)
    return out


def forward_response_headers(upstream: Headers) -> Headers:
    """Upstream response headers minus hop-by-hop ones, names lower-cased."""
    named_hop = _connection_tokens(upstream)
    out: Headers = []
    for key, value in upstream:
        name = key.lower()
        if name not in _RESPONSE_DROP and name not in named_hop:
            out.append((name, value))
    return out


def _is_credential(name: str, text: str) -> bool:
    return (
        name in _SENSITIVE
        or "svcpass_" in text
        or any(word in name for word in ("key", "token", "secret", "cookie"))
    )


def redact_headers(headers: Headers) -> dict[str, str]:
    """Headers as a dict for diagnostics, every credential value replaced."""
    out: dict[str, str] = {}
    for key, value in headers:
        name = key.decode("latin-1")
        text = value.decode("latin-1")
        out[name] = _REDACTED if _is_credential(name, text) else text
    return out


def loggable_headers(headers: Headers) -> dict[str, str]:
    """Headers as a dict for request logs: credential headers left out entirely."""
    out: dict[str, str] = {}
    for key, value in headers:
        name = key.decode("latin-1")
        text = value.decode("latin-1")
        if not _is_credential(name, text):
            out[name] = text
    return out


def apply_upstream_map(url: str, mapping: Mapping[str, str]) -> str:
    """Point a catalog upstream at a local stand-in (``--upstream-map``).

    ``{"https://api.groq.com": "http://127.0.0.1:9001"}`` turns
    ``https://api.groq.com/openai/v1/chat`` into ``http://127.0.0.1:9001/openai/v1/chat``.
    Origins match on a whole scheme+host[:port]; the longest match wins.
    """
    best = ""
    for origin in mapping:
        bare = origin.rstrip("/")
        if (
            url.startswith(bare)
            and (len(url) == len(bare) or url[len(bare)] in "/?#")
            and len(bare) > len(best)
        ):
            best = bare
    if not best:
        return url
    target = mapping[best] if best in mapping else mapping[best + "/"]
    return target.rstrip("/") + url[len(best) :]


def join_url(base_url: str, sub_path: str, query: str) -> str:
    """The upstream URL: base URL, then the caller's sub-path, then the forwarded query.

    The base URL's own query (rare; static parameters) is kept ahead of the caller's.
    """
    base, _, base_query = base_url.partition("?")
    url = base.rstrip("/") + "/" + sub_path if sub_path else base
    combined = "&".join(q for q in (base_query, query) if q)
    return f"{url}?{combined}" if combined else url


def make_client(
    destinations: Destinations,
    timeout: float = 300.0,
    connect_timeout: float = 10.0,
    factory: Callable[..., UpstreamPool] = UpstreamPool,
) -> UpstreamPool:
    """The shared upstream client (create it inside the running event loop).

    Every new connection's host is resolved and vetted by ``destinations`` (the SSRF
    policy), and the connection is opened to the vetted address.

    Neither httpx nor aiohttp on this path: httpx's pool collapses under concurrency
    (about 440 proxied requests/s at 32 concurrent calls here) and aiohttp's per-request
    bookkeeping was half the gateway's CPU (bench/bench_gateway.py). The pool has no
    connection limit, follows no redirects, leaves bodies encoded (they pass through byte
    for byte) and invents no ``User-Agent``/``Accept`` headers on the caller's behalf.
    ``factory`` builds the pool from those keyword arguments (a traced pool: tracing).
    """
    return factory(timeout=timeout, connect_timeout=connect_timeout, addresses=destinations)


class _Relay:
    """Streams an upstream body; returns the connection to the pool when done."""

    __slots__ = ("_response",)

    def __init__(self, response: UpstreamResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.iter_body():
                yield chunk
        except UpstreamError as exc:
            raise UpstreamInterrupted(
                f"upstream broke off mid-response: {type(exc).__name__}"
            ) from exc

    async def aclose(self) -> None:
        # A half-read connection is closed rather than pooled (release() decides).
        self._response.release()


def _error(trace: Trace, started: float, status: int, detail: str, kind: str) -> GatewayResponse:
    trace.upstream_ms = (time.perf_counter() - started) * 1000
    source = "gateway" if kind == "bad_upstream_url" else "upstream"
    return error_response(status, detail, error_type=kind, error_source=source)


async def proxy(
    client: UpstreamPool,
    method: str,
    call: UpstreamCall,
    inbound_headers: Headers,
    body: bytes,
    trace: Trace,
) -> GatewayResponse:
    """Send the request upstream and return the streamed response.

    Args:
        client: The shared client.
        method: HTTP method.
        call: Where to and with which credential.
        inbound_headers: The caller's headers (filtered here).
        body: The request body.
        trace: Receives the upstream URL and the time to headers.

    Returns:
        The upstream's response (body not yet read), or a 502/504 JSON error.
    """
    headers = forward_request_headers(inbound_headers, call.headers)
    trace.upstream_url = call.url
    started = time.perf_counter()
    try:
        response = await client.request(
            method,
            call.url,
            headers,
            body,
            timeout=call.timeout,
            connect_timeout=call.timeout,
            private_ok=call.private_ok,
        )
    except ForbiddenUpstream as exc:
        return error_response(403, str(exc), error_type="forbidden_upstream")
    except UpstreamTimeout:
        return _error(
            trace,
            started,
            504,
            "upstream timeout: the upstream service did not answer in time",
            "upstream_timeout",
        )
    except UpstreamConnectError:
        return _error(
            trace,
            started,
            502,
            "upstream unreachable: could not connect to the upstream service",
            "upstream_connect_error",
        )
    except BadUpstreamURL:
        return _error(
            trace,
            started,
            502,
            "the service's upstream URL is not a valid http(s) URL; contact the seller",
            "bad_upstream_url",
        )
    except UpstreamError as exc:
        return _error(
            trace,
            started,
            502,
            f"upstream error before a response was received ({type(exc).__name__})",
            "upstream_protocol_error",
        )
    trace.upstream_ms = (time.perf_counter() - started) * 1000
    return GatewayResponse(
        response.status,
        forward_response_headers(response.headers),
        _Relay(response),
    )
