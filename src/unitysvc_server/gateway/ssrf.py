"""Server-side request forgery guard for customer-supplied upstreams.

A BYOE enrollment lets a customer choose the upstream ``base_url``. Without a guard the
gateway would call anything it can reach on the customer's behalf — its own loopback admin
ports, the cloud metadata service at 169.254.169.254, the private network. The guard
resolves the host and refuses the call when any address is private, loopback, link-local,
multicast, reserved or unspecified, unless the operator allows private upstreams
(``--allow-private-upstreams``; on for ``--demo`` and ``LocalPlatform``).

Resolution results are cached for a minute per host so the check costs one dictionary
lookup on the hot path. The check happens before the connection, so a DNS answer that
changes between check and connect (rebinding) is not covered; operators exposed to that
should also filter egress at the network level.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

Resolver = Callable[[str], Awaitable[list[str]]]

_CACHE_SECONDS = 60.0


class ForbiddenUpstream(Exception):
    """The upstream resolves to an address customers may not reach."""


def is_forbidden_address(address: str) -> bool:
    """Whether an IP address is private, loopback, link-local or otherwise non-public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def system_resolver(host: str) -> list[str]:
    """All addresses ``host`` resolves to, through the event loop's resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class SSRFGuard:
    """Refuses customer-supplied upstream URLs that point inside the network.

    Args:
        allow_private: Skip the check entirely (local development, demo, tests).
        resolver: Host name to addresses; the system resolver by default.
        clock: Monotonic seconds, for the resolution cache.
    """

    def __init__(
        self,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allow_private = allow_private
        self._resolver = resolver
        self._clock = clock
        self._cache: dict[str, tuple[float, bool]] = {}

    async def check(self, url: str) -> None:
        """Raise unless ``url`` may be called on a customer's behalf.

        Raises:
            ForbiddenUpstream: The host resolves to a non-public address, cannot be
                resolved, or the URL has no host.
        """
        if self.allow_private:
            return
        parts = urlsplit(url)
        host = parts.hostname
        if not host or parts.scheme not in ("http", "https"):
            raise ForbiddenUpstream(f"upstream URL {url!r} needs an http(s) scheme and a host")
        now = self._clock()
        cached = self._cache.get(host)
        if cached is not None and cached[0] > now:
            forbidden = cached[1]
        else:
            forbidden = await self._forbidden(host)
            self._cache[host] = (now + _CACHE_SECONDS, forbidden)
        if forbidden:
            raise ForbiddenUpstream(
                f"upstream host {host!r} resolves to a private, loopback or link-local "
                "address; customer-supplied upstreams must be public (an operator can "
                "allow this with --allow-private-upstreams)"
            )

    async def _forbidden(self, host: str) -> bool:
        try:
            return is_forbidden_address(host)
        except ValueError:
            pass  # a name, not an address literal
        try:
            addresses = await self._resolver(host)
        except OSError as exc:
            raise ForbiddenUpstream(f"upstream host {host!r} does not resolve ({exc})") from exc
        return not addresses or any(is_forbidden_address(a) for a in addresses)
