"""Server-side request forgery guard: which addresses the gateway may connect to.

The gateway calls URLs that others wrote: a customer chooses a BYOE enrollment's
``base_url``, a seller writes a catalog's. Without a guard it would call anything its
host can reach — its own loopback ports, the cloud metadata service (169.254.169.254,
or 100.100.100.200 in carrier-grade NAT space), the private network.

The policy is an allow-list: an address is allowed only when it is *globally routable*
(:func:`is_public_address`). Python's ``is_global`` is not enough on its own (on 3.11 it
calls the deprecated site-local ``fec0::/10`` and the IPv4-mapped ``::ffff:100.64.0.1``
global), so addresses that embed an IPv4 address — IPv4-mapped ``::ffff:0:0/96``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16`` — are judged by the IPv4 address inside, and
site-local, IPv4-compatible (``::/96``), Teredo and local-use NAT64 addresses are refused.

The check runs where connections are opened (:class:`Destinations`, used by the upstream
pool for every new connection), after DNS resolution, and the pool connects to exactly
the address that was checked: there is no second lookup a rebinding DNS answer could
change. Every upstream connection goes through it — BYOE channels, catalog channels,
failover and tee secondaries, chain and broadcast steps, scheduled runs.

Exempt are destinations the operator named: the targets of the upstream map
(``--upstream-map``) and the demo's own mock upstreams — but never for a BYOE channel,
whose URL the customer chose. ``--allow-private-upstreams`` turns the policy off
(local development; on with ``--demo`` and in ``LocalPlatform``). ``--resolve
HOST=ADDRESS`` pins a host name to an address, which is checked like a resolved one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping

__all__ = [
    "Destinations",
    "ForbiddenUpstream",
    "Resolver",
    "is_public_address",
    "system_resolver",
]

Resolver = Callable[[str], Awaitable[list[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class ForbiddenUpstream(Exception):
    """The upstream resolves to an address the gateway may not connect to."""


def _public_v4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
    )


def is_public_address(address: str) -> bool:
    """Whether the gateway may connect to IP ``address`` with private upstreams refused.

    Raises:
        ValueError: ``address`` is not an IP address.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _public_v4(ip)
    embedded = ip.ipv4_mapped or ip.sixtofour
    if embedded is None and ip in _NAT64:
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if embedded is not None:
        return _public_v4(embedded)
    if ip.is_site_local or ip.teredo is not None or ip in _IPV4_COMPATIBLE:
        return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
    )


async def system_resolver(host: str) -> list[str]:
    """Every address ``host`` resolves to, through the event loop's resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class Destinations:
    """Resolves upstream hosts to the addresses the gateway may connect to.

    Args:
        allow_private: Skip the address policy (local development, demo, tests).
        overrides: Host name -> IP address, used instead of DNS (``--resolve``).
        resolver: Host name to addresses; the system resolver by default.
    """

    def __init__(
        self,
        allow_private: bool,
        overrides: Mapping[str, str] | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_private = allow_private
        self._overrides = {host.lower(): address for host, address in (overrides or {}).items()}
        self._resolver = resolver

    async def addresses(self, host: str, private_ok: bool = False) -> list[str]:
        """The addresses to connect to for ``host``, each one allowed by the policy.

        Args:
            host: Host name or IP literal of the URL.
            private_ok: The operator named this destination (see the module docs).

        Raises:
            ForbiddenUpstream: The host does not resolve, or resolves (also) to an
                address that is not public while the policy applies.
        """
        name = host.lower().rstrip(".")
        if name in self._overrides:
            addresses = [self._overrides[name]]
        elif _is_ip(name):
            addresses = [name]
        else:
            try:
                addresses = await self._resolver(name)
            except OSError as exc:
                raise ForbiddenUpstream(
                    f"upstream host {host!r} does not resolve ({exc.strerror or exc})"
                ) from None
            if not addresses:
                raise ForbiddenUpstream(f"upstream host {host!r} does not resolve")
        if self.allow_private or private_ok:
            return addresses
        refused = [a for a in addresses if not is_public_address(a)]
        if refused:
            # One non-public answer refuses the name: a mix is how rebinding starts.
            raise ForbiddenUpstream(
                f"upstream host {host!r} resolves to {refused[0]}, which is not a public "
                "address (private, loopback, link-local, carrier-grade NAT, site-local or "
                "reserved); upstreams must be publicly routable (an operator can allow "
                "this with --allow-private-upstreams)"
            )
        return addresses
