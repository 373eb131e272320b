"""``/v1/services/{service_id}``: service detail, interfaces, documents, access plan, membership."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from unitysvc.models import (
    AccessInterface,
    AccessPlan,
    CustomerGroupMembershipResponse,
    CustomerGroupMembershipUpdate,
    DocumentCategoryEnum,
    ServiceDetail,
    ServiceDocumentsResponse,
)
from unitysvc_server.api.catalog_deps import CatalogDep
from unitysvc_server.api.deps import (
    CustomerDep,
    OptionalCustomerDep,
    SessionDep,
    get_optional_customer,
)
from unitysvc_server.domain import collections, services

router = APIRouter(prefix="/services", tags=["services"])

#: Catalog reads are anonymous, but a key that *is* sent must be valid (401
#: otherwise), as on every other route: a typo'd key never silently reads as
#: anonymous.
CHECK_KEY_IF_SENT = [Depends(get_optional_customer)]

ServiceId = Annotated[
    str, Path(description="The service UUID, or a unique prefix of it.", max_length=36)
]


@router.get("/{service_id}", response_model=ServiceDetail, dependencies=CHECK_KEY_IF_SENT)
async def get_service(service_id: ServiceId, request: Request, catalog: CatalogDep) -> Any:
    """A public service by id or unique id prefix (``ETag``; 304 on ``If-None-Match``)."""
    service = services.find_service(catalog, service_id)
    etag = services.detail_etag(service)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return JSONResponse(
        services.service_detail(service).model_dump(mode="json", exclude_unset=False),
        headers=headers,
    )


@router.get("/{service_id}/interfaces")
async def list_interfaces(
    service_id: ServiceId,
    session: SessionDep,
    catalog: CatalogDep,
    customer: OptionalCustomerDep,
) -> list[AccessInterface]:
    """Shared interfaces plus the caller's enrollment-bound ones, URLs rendered."""
    service = services.find_listed_service(catalog, service_id)
    return await services.interfaces(session, catalog, service, customer)


@router.get("/{service_id}/groups")
async def get_membership(
    service_id: ServiceId, session: SessionDep, catalog: CatalogDep, customer: CustomerDep
) -> CustomerGroupMembershipResponse:
    """The caller's collections, flagged with whether the service is in each."""
    service = services.find_listed_service(catalog, service_id)
    return await collections.membership(session, customer.id, service)


@router.put("/{service_id}/groups")
async def set_membership(
    service_id: ServiceId,
    body: CustomerGroupMembershipUpdate,
    session: SessionDep,
    catalog: CatalogDep,
    customer: CustomerDep,
) -> CustomerGroupMembershipResponse:
    """Put the service in exactly the listed collections (Favorites with include_default)."""
    service = services.find_listed_service(catalog, service_id)
    return await collections.set_membership(session, catalog, customer.id, service, body)


@router.get("/{service_id}/documents", dependencies=CHECK_KEY_IF_SENT)
async def list_documents(
    service_id: ServiceId,
    catalog: CatalogDep,
    category: Annotated[
        DocumentCategoryEnum | None, Query(description="Filter by category.")
    ] = None,
    mime_type: Annotated[
        str | None, Query(description="Filter by mime type (python, javascript, bash...).")
    ] = None,
    include_content: bool = False,
    interface: Annotated[
        str | None, Query(description="Render examples against this interface key.")
    ] = None,
) -> ServiceDocumentsResponse:
    """Public documents; renderable ones rendered against one interface."""
    service = services.find_service(catalog, service_id)
    return services.documents(
        catalog,
        service,
        category=category,
        mime_type=mime_type,
        include_content=include_content,
        interface=interface,
    )


@router.get("/{service_id}/documents/{document_id}", dependencies=CHECK_KEY_IF_SENT)
async def get_document(
    service_id: ServiceId,
    document_id: UUID,
    catalog: CatalogDep,
    interface: Annotated[
        str | None, Query(description="Render against this interface key.")
    ] = None,
) -> ServiceDocumentsResponse:
    """One public document, content included."""
    service = services.find_service(catalog, service_id)
    return services.document(catalog, service, document_id, interface=interface)


@router.get("/{service_id}/usage", dependencies=CHECK_KEY_IF_SENT)
async def get_usage(service_id: ServiceId, catalog: CatalogDep) -> AccessPlan:
    """The service's access plan: enrollment mode, parameters, interfaces, channels."""
    return services.access_plan(catalog, services.find_service(catalog, service_id))
