"""``m/``: a customer-scoped response cache.

The key is a hash of the customer, method, target (address, sub-path and forwarded query,
without wrappers) and body, so two customers never share an entry and the same call
wrapped differently (``m/p/x`` vs ``l/m/p/x``) does. Only 2xx responses are stored —
streamed ones too, once the stream has completed — and replayed byte for byte with
``x-unitysvc-cache: hit``; fresh answers carry ``miss``. ``_renew`` skips the lookup and
overwrites the entry. A cache backend that fails (Redis down) degrades to a plain call.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from unitysvc_server.gateway.cache import CachedResponse, ResponseCache
from unitysvc_server.gateway.pipeline import (
    BytesBody,
    GatewayRequest,
    GatewayResponse,
    Handler,
    ObservedBody,
    Spawn,
)

logger = logging.getLogger("unitysvc_server.gateway")

CACHE_HEADER = b"x-unitysvc-cache"
#: Larger responses pass through uncached rather than being held in memory.
DEFAULT_MAX_ENTRY_BYTES = 8 * 1024 * 1024
# Recomputed on replay, or meaningless for another caller.
_NOT_STORED = frozenset({b"content-length", b"date", b"set-cookie", CACHE_HEADER})


def cache_key(request: GatewayRequest) -> str:
    """The memo key of a request: customer, method, target and body."""
    digest = hashlib.sha256()
    for part in (
        str(request.caller.customer_id).encode(),
        request.method.encode(),
        request.path.target.encode(),
    ):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    digest.update(request.body)
    return digest.hexdigest()


class _Capture:
    """Collects a 2xx body as it streams and stores it once complete."""

    __slots__ = ("parts", "size", "overflow", "store")

    def __init__(self, store: Callable[[bytes], object], limit: int) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.overflow = limit
        self.store = store

    def chunk(self, data: bytes) -> None:
        if self.overflow < 0:
            return
        self.size += len(data)
        if self.size > self.overflow:
            self.overflow = -1
            self.parts.clear()
            return
        self.parts.append(data)

    def end(self, complete: bool) -> None:
        if complete and self.overflow >= 0:
            self.store(b"".join(self.parts))
        self.parts = []


def memoize_stage(
    inner: Handler,
    *,
    cache: ResponseCache,
    spawn: Spawn,
    max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
) -> Handler:
    """Build the ``m/`` stage.

    Args:
        inner: The next handler.
        cache: Where entries live.
        spawn: Runs a background coroutine (storing must not delay the response).
        max_entry_bytes: Bodies above this size are not cached.
    """

    async def handle(request: GatewayRequest) -> GatewayResponse:
        wrappers = request.path.wrappers
        if not wrappers.memoize:
            return await inner(request)
        key = cache_key(request)
        if not wrappers.renew:
            try:
                hit = await cache.get(key)
            except Exception as exc:  # a broken cache must not break the call
                logger.warning("memoize lookup failed, calling through: %s", exc)
                hit = None
            if hit is not None:
                headers = [
                    *hit.headers,
                    (b"content-length", str(len(hit.body)).encode()),
                    (CACHE_HEADER, b"hit"),
                ]
                return GatewayResponse(hit.status, headers, BytesBody(hit.body))
        response = await inner(request)
        response.headers.append((CACHE_HEADER, b"miss"))
        if not 200 <= response.status < 300:
            return response
        stored_headers = [(k, v) for k, v in response.headers if k not in _NOT_STORED]
        status = response.status
        ttl = wrappers.ttl_seconds

        async def save(body: bytes) -> None:
            try:
                await cache.set(key, CachedResponse(status, stored_headers, body), ttl)
            except Exception as exc:
                logger.warning("memoize store failed: %s", exc)

        capture = _Capture(lambda body: spawn(save(body)), max_entry_bytes)
        response.body = ObservedBody(response.body, capture)
        return response

    return handle
