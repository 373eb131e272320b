"""``GET g/<group>/models``: the models of every member of a group, merged.

Routing a models listing to one member (as any other call through a group is) would show
one random member's models. Instead every member the caller can use is asked at once
(each with the sub-path the group would send it, so ``g/llm/v1/models`` and
``g/llm/models`` work as the group's chat calls do), and the answer is one OpenAI-style
list, ``{"object": "list", "data": [...]}``, in member order, one entry per model id:

* a member addressed by a routing key (``{"model": "demo-small"}``, or a collection's
  rename) is listed under the id a caller sends through the group, with the upstream's
  own entry for its model when the upstream lists it, else a minimal entry -- so the list
  names exactly what the group routes;
* a member without a key contributes every model its upstream lists.

A member that fails to answer is left out (a keyed member still appears: its model is
routable whatever its listing endpoint says). These listing calls are not metered.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from unitysvc_server.asgi_io import json_depth_exceeds
from unitysvc_server.gateway.h1client import UpstreamPool
from unitysvc_server.gateway.pipeline import BytesBody, GatewayRequest, GatewayResponse, Trace
from unitysvc_server.gateway.routing_objects import read_all
from unitysvc_server.gateway.upstream import UpstreamCall, proxy
from unitysvc_server.routing.paths import GatewayPath
from unitysvc_server.routing.selection import ROUTING_FIELD, Candidate

#: Largest models listing read from one member.
MAX_LISTING_BYTES = 4 * 1024 * 1024
_LISTING_PATHS = frozenset({"models", "v1/models"})


class MemberCall(Protocol):
    """A member's rendered upstream call (``gateway.catalog_router.Routed``)."""

    @property
    def call(self) -> UpstreamCall: ...


def is_models_listing(method: str, path: GatewayPath) -> bool:
    """Whether a request is a models listing of a group (``GET g/<group>[/v1]/models``)."""
    return method == "GET" and path.kind == "group" and path.rest.strip("/") in _LISTING_PATHS


def _entries(data: bytes) -> list[Mapping[str, Any]] | None:
    if json_depth_exceeds(data):
        return None  # an upstream (a BYOE one) may answer anything
    try:
        body = json.loads(data)
    except ValueError:
        return None
    items = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        return None
    return [i for i in items if isinstance(i, Mapping) and isinstance(i.get("id"), str)]


def _model(key: Mapping[str, Any] | None) -> str | None:
    value = key.get(ROUTING_FIELD) if key else None
    return value if isinstance(value, str) and value else None


def merge(results: Sequence[tuple[Candidate, list[Mapping[str, Any]] | None]]) -> list[Any]:
    """The merged listing (see the module docstring); ``None`` marks a failed member."""
    merged: dict[str, Any] = {}
    for candidate, entries in results:
        listed = {str(e["id"]): e for e in entries or ()}
        exposed = _model(candidate.routing_key)
        if exposed is None:
            for model_id, entry in listed.items():
                merged.setdefault(model_id, dict(entry))
            continue
        upstream = _model(candidate.upstream_routing_key) or exposed
        own = listed.get(upstream) or listed.get(exposed)
        entry = (
            dict(own)
            if own is not None
            else {
                "object": "model",
                "owned_by": candidate.service.provider_name,
            }
        )
        entry["id"] = exposed
        merged.setdefault(exposed, entry)
    return list(merged.values())


async def list_group_models(
    request: GatewayRequest,
    members: Sequence[tuple[Candidate, MemberCall]],
    client: UpstreamPool,
) -> GatewayResponse:
    """Ask every member for its models and answer the merged list.

    The upstream pool vets every member's destination (``gateway.ssrf``): a refused one
    answers 403 and is left out like any member that fails.
    """

    async def ask(member: MemberCall) -> list[Mapping[str, Any]] | None:
        response = await proxy(client, "GET", member.call, request.headers, b"", Trace())
        data, cut = await read_all(response, MAX_LISTING_BYTES)
        if cut or not 200 <= response.status < 300:
            return None
        return _entries(data)

    answers = await asyncio.gather(*(ask(m) for _, m in members))
    body = json.dumps(
        {
            "object": "list",
            "data": merge([(c, a) for (c, _), a in zip(members, answers, strict=True)]),
        }
    ).encode()
    return GatewayResponse(
        200,
        [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        BytesBody(body),
    )
