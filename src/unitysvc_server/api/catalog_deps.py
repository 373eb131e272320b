"""FastAPI dependencies for the catalog-facing routers (groups, services, enrollments, resolve)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from unitysvc_server.api.deps import app_runtime
from unitysvc_server.catalog.model import Catalog
from unitysvc_server.routing.selection import LatencyTracker

__all__ = ["CatalogDep", "LatencyDep"]


# Coroutines, not plain functions, which FastAPI would run in its thread pool; reading the
# runtime from the request, not through RuntimeDep (one dependency less to solve).


async def get_catalog(request: Request) -> Catalog:
    """The loaded catalog (set by the catalog component before the API serves)."""
    runtime = app_runtime(request)
    catalog = runtime.catalog
    if catalog is None:
        # Only reachable when an app is built without the catalog component.
        return Catalog((), (), runtime.settings.gateway_url)
    return catalog


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


async def get_latency(request: Request) -> LatencyTracker | None:
    """The platform's latency tracker (the gateway feeds it; ``lowest_latency`` reads it)."""
    return app_runtime(request).latency


LatencyDep = Annotated[LatencyTracker | None, Depends(get_latency)]
