"""``/v1/resolve``: dry-run routing with the gateway's own selection code."""

from __future__ import annotations

from fastapi import APIRouter

from unitysvc.models import ResolveRequest, ResolveResponse
from unitysvc_server.api.catalog_deps import CatalogDep, LatencyDep
from unitysvc_server.api.deps import CustomerDep, SessionDep
from unitysvc_server.domain import route_preview

router = APIRouter(prefix="/resolve", tags=["resolve"])


@router.post("")
async def resolve_path(
    body: ResolveRequest,
    session: SessionDep,
    catalog: CatalogDep,
    customer: CustomerDep,
    latency: LatencyDep,
) -> ResolveResponse:
    """Candidates, strategy and (for content-independent strategies) the pre-selected one."""
    return await route_preview.resolve(session, catalog, customer.id, body, latency=latency)
