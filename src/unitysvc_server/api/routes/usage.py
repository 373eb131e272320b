"""``/v1/usage``: the customer's usage and cost in a billing cycle."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from unitysvc.models import CycleUsageResponse
from unitysvc_server.api.catalog_deps import CatalogDep
from unitysvc_server.api.deps import CustomerDep, SessionDep
from unitysvc_server.clock import utcnow
from unitysvc_server.domain import usage

router = APIRouter(prefix="/usage", tags=["usage"])


@router.get("/cycle")
async def get_cycle_usage(
    session: SessionDep,
    customer: CustomerDep,
    catalog: CatalogDep,
    cycle_start: Annotated[
        date | None,
        Query(description="First day of the cycle (a calendar month, UTC); default the current"),
    ] = None,
) -> CycleUsageResponse:
    """Cycle-to-date requests, errors, usage and charges per service, with the totals."""
    return await usage.cycle_usage(session, catalog, customer.id, cycle_start, utcnow())
