"""Dry-run gateway route resolution (``POST /v1/resolve``).

Answers "what would the gateway do for this path and routing key?" without calling
any upstream: the candidates, the effective strategy and, when the choice does not
depend on the request body, the pre-selected candidate.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, overload

from unitysvc._core import Flow, RequestOptions, parse
from unitysvc._ops import Context
from unitysvc.exceptions import invalid_argument

if TYPE_CHECKING:
    from unitysvc._client import AsyncClient, Client
    from unitysvc.models import ResolveResponse

__all__ = ["resolve", "resolve_flow"]

GATEWAYS = ("api", "s3", "smtp")


def resolve_flow(
    ctx: Context,
    *,
    path: str,
    routing_key: Mapping[str, object] | None = None,
    gateway: str = "api",
    strategy: str | None = None,
    options: RequestOptions,
) -> Flow[ResolveResponse]:
    """The resolve call as a flow (shared by ``Client`` and ``AsyncClient``)."""
    from unitysvc.models import ResolveResponse

    if gateway not in GATEWAYS:
        raise invalid_argument("gateway", gateway, f"must be one of {', '.join(GATEWAYS)}")
    core = ctx.core
    core.require_key("resolve")
    body: dict[str, object] = {"path": path, "gateway": gateway}
    if routing_key:
        body["routing_key"] = dict(routing_key)
    if strategy:
        body["strategy"] = strategy
    response = yield from core.send(core.request("POST", "/resolve", json=body, options=options))
    return parse(ResolveResponse, response)


@overload
def resolve(
    client: Client,
    *,
    path: str,
    routing_key: Mapping[str, object] | None = None,
    gateway: str = "api",
    strategy: str | None = None,
) -> ResolveResponse: ...
@overload
def resolve(
    client: AsyncClient,
    *,
    path: str,
    routing_key: Mapping[str, object] | None = None,
    gateway: str = "api",
    strategy: str | None = None,
) -> Coroutine[Any, Any, ResolveResponse]: ...
def resolve(
    client: Client | AsyncClient,
    *,
    path: str,
    routing_key: Mapping[str, object] | None = None,
    gateway: str = "api",
    strategy: str | None = None,
) -> ResolveResponse | Coroutine[Any, Any, ResolveResponse]:
    """Dry-run resolve a gateway path + routing key to its candidates.

    Args:
        client: A :class:`~unitysvc.Client` (returns the response) or an
            :class:`~unitysvc.AsyncClient` (returns an awaitable).
        path: Gateway request path, e.g. ``g/llm/chat/completions``.
        routing_key: Routing key the gateway would match, e.g. ``{"model": "gpt-4"}``.
        gateway: ``"api"`` (default), ``"s3"`` or ``"smtp"``.
        strategy: Override the group's routing strategy (``by_price``,
            ``lowest_latency``, ``weighted_random``).

    Returns:
        A ``ResolveResponse`` with ``candidates``, ``routing_strategy`` and
        ``selected`` (None when the choice depends on the request body).
    """
    return client.resolve(path=path, routing_key=routing_key, gateway=gateway, strategy=strategy)
