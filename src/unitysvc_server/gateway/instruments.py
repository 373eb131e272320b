"""What the gateway lets an observer wrap: its door, upstream client, resolver and writers.

:class:`GatewayInstruments` is the port the gateway component builds its parts through;
``unitysvc_server.observability.Observability`` implements it (metrics and traces), and
:class:`NoInstruments` — every part exactly as built — is what runs when nothing
observes. The gateway never imports the observer: the app passes it in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from unitysvc_server.domain.recurrent_runs import Fire
    from unitysvc_server.domain.usage import UsageEvent
    from unitysvc_server.gateway.asgi import Authenticate, DoorObserver
    from unitysvc_server.gateway.dispatcher import Resolver
    from unitysvc_server.gateway.h1client import UpstreamPool
    from unitysvc_server.gateway.ssrf import Destinations

__all__ = ["GatewayInstruments", "NoInstruments"]

T = TypeVar("T")


class GatewayInstruments(Protocol):
    """Wrappers around the gateway's parts; each returns its argument when it adds nothing."""

    def gateway_app(self, app: ASGIApp) -> ASGIApp:
        """The gateway's ASGI door."""

    def door_observer(self) -> DoorObserver | None:
        """What the door reports each answered request to, if anything."""

    def upstream_pool(
        self, make: Callable[..., UpstreamPool], destinations: Destinations
    ) -> UpstreamPool:
        """The shared upstream client, ``make(destinations)`` or an observed one."""

    def resolver(self, resolver: Resolver) -> Resolver:
        """The resolver of catalog addresses."""

    def authenticate(self, authenticate: Authenticate) -> Authenticate:
        """The key check."""

    def usage(self, submit: Callable[[UsageEvent], None]) -> Callable[[UsageEvent], None]:
        """Usage metering's ``submit``."""

    def scheduled_runs(self, fire: Fire) -> Fire:
        """The scheduler's ``fire`` (one recurrent-request run)."""

    def log_writes(
        self, write: Callable[[Sequence[T]], Awaitable[None]]
    ) -> Callable[[Sequence[T]], Awaitable[None]]:
        """The log writer's batch write."""


class NoInstruments:
    """Nothing observes: every part is used exactly as built."""

    def gateway_app(self, app: ASGIApp) -> ASGIApp:
        """``app`` itself."""
        return app

    def door_observer(self) -> DoorObserver | None:
        """No observer."""
        return None

    def upstream_pool(
        self, make: Callable[..., UpstreamPool], destinations: Destinations
    ) -> UpstreamPool:
        """``make(destinations)``."""
        return make(destinations)

    def resolver(self, resolver: Resolver) -> Resolver:
        """``resolver`` itself."""
        return resolver

    def authenticate(self, authenticate: Authenticate) -> Authenticate:
        """``authenticate`` itself."""
        return authenticate

    def usage(self, submit: Callable[[UsageEvent], None]) -> Callable[[UsageEvent], None]:
        """``submit`` itself."""
        return submit

    def scheduled_runs(self, fire: Fire) -> Fire:
        """``fire`` itself."""
        return fire

    def log_writes(
        self, write: Callable[[Sequence[T]], Awaitable[None]]
    ) -> Callable[[Sequence[T]], Awaitable[None]]:
        """``write`` itself."""
        return write
