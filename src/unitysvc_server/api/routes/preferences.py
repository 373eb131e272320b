"""``/v1/preferences``: the named preferences of the account the key acts for."""

from __future__ import annotations

from fastapi import APIRouter

from unitysvc.models import PreferencePublic, PreferencesPublic, PreferenceUpdate
from unitysvc_server.api.catalog_deps import CatalogDep
from unitysvc_server.api.deps import CustomerDep, SessionDep
from unitysvc_server.domain import preferences

router = APIRouter(prefix="/preferences", tags=["preferences"])


@router.get("/")
async def read_preferences(session: SessionDep, customer: CustomerDep) -> PreferencesPublic:
    """Every preference (``notification``, ``ai``, ``request-log``), set or not."""
    return await preferences.list_preferences(session, customer)


@router.get("/{name}")
async def read_named_preference(
    name: str, session: SessionDep, customer: CustomerDep
) -> PreferencePublic:
    """One preference; 404 for an unknown name."""
    return await preferences.get_preference(session, customer, name)


@router.put("/{name}")
async def set_named_preference(
    name: str,
    body: PreferenceUpdate,
    session: SessionDep,
    customer: CustomerDep,
    catalog: CatalogDep,
) -> PreferencePublic:
    """Set one preference (validated on write); ``value: null`` clears it."""
    return await preferences.set_preference(session, catalog, customer, name, body.value)


@router.delete("/{name}")
async def clear_named_preference(
    name: str, session: SessionDep, customer: CustomerDep
) -> PreferencePublic:
    """Clear one preference back to its fallback (idempotent)."""
    return await preferences.clear_preference(session, customer, name)
