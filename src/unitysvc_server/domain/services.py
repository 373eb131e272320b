"""The services surface: detail, interfaces, documents, access plan (CONTRACT §1.7 Services)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from unitysvc.models import (
    AccessInterface,
    AccessInterfacePlan,
    AccessPlan,
    ChannelPlan,
    ParameterRequirement,
    RoutingEndpointPlan,
    SecretRequirement,
    ServiceDetail,
    ServiceDocumentDetail,
    ServiceDocumentsResponse,
)
from unitysvc_server.catalog.model import (
    Catalog,
    CatalogDocument,
    CatalogService,
    ServiceInterface,
    UpstreamChannel,
    render_gateway_url,
    thaw,
)
from unitysvc_server.domain import enrollments
from unitysvc_server.domain.customers import Customer
from unitysvc_server.domain.errors import NotFound
from unitysvc_server.domain.groups import group_interface, visible_platform_groups
from unitysvc_server.storage.session import Session

GATEWAY_TYPE = "api"
_PREFIX = re.compile(r"^[0-9a-fA-F-]{1,36}$")
_DOC_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


# -- lookup ----------------------------------------------------------------------


def find_service(catalog: Catalog, service_id: str) -> CatalogService:
    """The readable service with id ``service_id`` or a unique id prefix.

    Readable: public and active (or deprecated, so old invoices still render).

    Raises:
        NotFound: Unknown, not readable, or an ambiguous prefix.
    """
    text = service_id.strip()
    try:
        found = catalog.service(uuid.UUID(text))
    except ValueError:
        found = None
        if _PREFIX.match(text):
            matches = [s for s in catalog.services_by_prefix(text) if s.is_readable]
            if len(matches) > 1:
                raise NotFound(
                    f"service id prefix {text!r} matches {len(matches)} services; "
                    "send more characters"
                ) from None
            found = matches[0] if matches else None
    if found is None or not found.is_readable:
        raise NotFound(f"service {text} not found")
    return found


def find_listed_service(catalog: Catalog, service_id: str) -> CatalogService:
    """Like :func:`find_service`, but only active services (for dispatch-related calls)."""
    service = find_service(catalog, service_id)
    if not service.is_listed:
        raise NotFound(f"service {service_id} is deprecated and no longer served")
    return service


# -- detail ----------------------------------------------------------------------


def channel_types(service: CatalogService) -> list[str]:
    """The kinds of the service's active channels, in preference order, deduplicated."""
    kinds: list[str] = []
    for channel in service.channels:
        if channel.is_active and channel.kind not in kinds:
            kinds.append(channel.kind)
    return kinds


def service_detail(service: CatalogService) -> ServiceDetail:
    """The customer-facing ``ServiceDetail`` of ``service``."""
    kinds = channel_types(service)
    enrollment_channel = next(
        (c.name for c in service.channels if c.is_active and c.kind != "managed"), None
    )
    return ServiceDetail(
        id=service.id,
        name=service.name,
        display_name=service.display_name,
        service_type=service.service_type,
        gateway_type=GATEWAY_TYPE,
        description=service.description,
        provider_name=service.provider_name,
        seller_name=service.seller_name,
        capabilities=list(service.capabilities),
        tags=list(service.tags),
        list_price=thaw(service.list_price) if service.list_price else None,
        enrollment_channel=enrollment_channel,
        listing_type=kinds[0] if kinds else None,
        channel_types=kinds,
        summary=service.summary,
        status=service.status,
    )


def detail_etag(service: CatalogService) -> str:
    """A strong validator of the detail body (the catalog is immutable while running)."""
    return f'"{uuid.uuid5(service.id, repr(service_detail(service).model_dump()))}"'


# -- interfaces ----------------------------------------------------------------------


def shared_interfaces(service: CatalogService) -> list[ServiceInterface]:
    """The service's own active gateway interfaces; none when it needs an enrollment.

    Enrollment services are reached at their enrollments' ``e/<code>`` endpoints.
    """
    if service.enrollment_required:
        return []
    return [i for i in service.interfaces if i.is_active and i.gateway_path is not None]


async def interfaces(
    session: Session, catalog: Catalog, service: CatalogService, customer: Customer | None
) -> list[AccessInterface]:
    """Interfaces the caller can dispatch: shared ones, then the caller's enrollment ones.

    Group-level interfaces of routable platform groups holding the service
    follow, marked with ``group_name``.
    """
    out = [
        AccessInterface(
            name=i.name,
            description=i.description,
            access_method=i.access_method,
            base_url=catalog.render_url(i.base_url),
        )
        for i in shared_interfaces(service)
    ]
    if customer is not None:
        for row in await enrollments.active_enrollments_for(session, customer.id, service.id):
            out.append(
                AccessInterface(
                    name=f"enrollment-{row.code}",
                    description=f"your enrollment {row.id}",
                    access_method="http",
                    base_url=enrollments.proxy_endpoint(row, catalog.gateway_base_url),
                    enrollment_id=row.id,
                )
            )
    visible = visible_platform_groups(catalog)
    for group in catalog.groups_of(service.id):
        if group in visible and group.is_routable:
            interface = group_interface(group, catalog)
            if interface is not None:
                out.append(interface)
    return out


# -- documents ----------------------------------------------------------------------


def _render_document(
    doc: CatalogDocument, service: CatalogService, interface: ServiceInterface | None, gw: str
) -> tuple[str | None, str | None]:
    if doc.content is None or not doc.renderable:
        return doc.content, None
    key = (interface.routing_key if interface else None) or service.native_routing_key
    if interface is not None:
        base_url = render_gateway_url(interface.base_url, gw)
    else:
        base_url = f"{gw}/p/{service.id}"
    variables: dict[str, Any] = {
        "service_base_url": base_url,
        "base_url": base_url,
        "gateway_base_url": gw,
        "routing_key": thaw(key) if key else {},
        "model": (key or {}).get("model", service.offering_name),
        "service_name": service.name,
        "service_id": str(service.id),
        "provider_name": service.provider_name,
        "offering": {"name": service.offering_name, "details": thaw(service.details)},
        "listing": {"name": service.name, "display_name": service.display_name},
        "local_testing": False,
    }
    try:
        return _DOC_ENV.from_string(doc.content).render(**variables), None
    except TemplateError as exc:
        return None, f"template error: {exc.message or type(exc).__name__}"


def _document_detail(
    doc: CatalogDocument,
    service: CatalogService,
    interface: ServiceInterface | None,
    gw: str,
    include_content: bool,
) -> ServiceDocumentDetail:
    content: str | None = None
    error: str | None = None
    if include_content:
        content, error = _render_document(doc, service, interface, gw)
    filename = doc.filename[:-3] if doc.filename and doc.filename.endswith(".j2") else doc.filename
    return ServiceDocumentDetail(
        id=doc.id,
        title=doc.title,
        description=doc.description,
        category=doc.category,
        mime_type=doc.mime_type,
        version=doc.version,
        sort_order=doc.sort_order,
        external_url=doc.external_url,
        filename=filename,
        content=content,
        render_error=error,
        meta=thaw(doc.meta) if doc.meta else None,
    )


def _pick_interface(
    service: CatalogService, name: str | None
) -> tuple[ServiceInterface | None, list[str]]:
    available = [i for i in service.interfaces if i.is_active and i.gateway_path is not None]
    names = [i.name for i in available]
    if name is None:
        return (available[0] if available else None), names
    chosen = next((i for i in available if i.name == name), None)
    if chosen is None:
        raise NotFound(
            f"interface {name!r} not found on service {service.name!r}; "
            f"available: {', '.join(names) or 'none'}"
        )
    return chosen, names


def _public_documents(service: CatalogService) -> list[CatalogDocument]:
    docs = [d for d in service.documents if d.is_public]
    return sorted(docs, key=lambda d: (d.category, d.sort_order, d.title))


def documents(
    catalog: Catalog,
    service: CatalogService,
    *,
    category: str | None,
    mime_type: str | None,
    include_content: bool,
    interface: str | None,
) -> ServiceDocumentsResponse:
    """The service's public documents, renderable ones rendered against one interface.

    Raises:
        NotFound: ``interface`` names no interface of the service.
    """
    chosen, names = _pick_interface(service, interface)
    docs = [
        d
        for d in _public_documents(service)
        if (category is None or d.category == category)
        and (mime_type is None or d.mime_type == mime_type)
    ]
    gw = catalog.gateway_base_url
    return ServiceDocumentsResponse(
        interface=chosen.name if chosen else None,
        available_interfaces=names,
        documents=[_document_detail(d, service, chosen, gw, include_content) for d in docs],
    )


def document(
    catalog: Catalog, service: CatalogService, document_id: uuid.UUID, *, interface: str | None
) -> ServiceDocumentsResponse:
    """One public document, content included.

    Raises:
        NotFound: Unknown document or interface.
    """
    doc = next((d for d in _public_documents(service) if d.id == document_id), None)
    if doc is None:
        raise NotFound(f"document {document_id} not found on service {service.name!r}")
    chosen, names = _pick_interface(service, interface)
    return ServiceDocumentsResponse(
        interface=chosen.name if chosen else None,
        available_interfaces=names,
        documents=[_document_detail(doc, service, chosen, catalog.gateway_base_url, True)],
    )


# -- access plan ----------------------------------------------------------------------


def _channel_price(service: CatalogService, channel: str) -> str | None:
    """The price summary core computes for the channel (``"0.18"``), or None when unpriced."""
    from unitysvc_core.models.pricing import ChannelPriceData, validate_pricing

    if not service.list_price:
        return None
    pricing: Any = validate_pricing(thaw(service.list_price))
    if isinstance(pricing, ChannelPriceData):
        child = pricing.channels.get(channel) or pricing.channels[pricing.default]
        pricing = validate_pricing(child)
    summary = getattr(pricing, "price", None)
    return str(summary) if summary is not None else None


def _is_zero(text: str | None) -> bool:
    try:
        return text is not None and Decimal(text) == 0
    except ArithmeticError:
        return False


def _strings(value: Any) -> list[str] | None:
    """``value`` when it is a list of strings (catalog metadata), else None."""
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _default_channel(service: CatalogService) -> str | None:
    """The channel a call uses unless the caller's secrets or enrollment pick another.

    The list price's own ``default`` when it prices per channel, else the first active
    channel in preference order.
    """
    price = service.list_price
    if price and price.get("type") == "channel" and isinstance(price.get("default"), str):
        return str(price["default"])
    return next((c.name for c in service.channels if c.is_active), None)


def _channel_plan(service: CatalogService, channel: UpstreamChannel) -> ChannelPlan:
    price = _channel_price(service, channel.name)
    description = None
    if service.list_price:
        raw = service.list_price.get("description")
        description = raw if isinstance(raw, str) else None
    about = channel.config.get("description")
    interfaces = [i.name for i in shared_interfaces(service)]
    return ChannelPlan(
        name=channel.name,
        channel_type=channel.kind,
        description=about if isinstance(about, str) else None,
        free=_is_zero(price),
        price_description=description,
        price=price,
        currency=service.currency,
        requires_enrollment=channel.needs_enrollment,
        required_secrets=[SecretRequirement(name=n) for n in channel.required_secrets],
        optional_secrets=[SecretRequirement(name=n) for n in channel.optional_secrets],
        default=channel.name == _default_channel(service),
        # Channels are picked by the caller's secrets and enrollment; no path selects one.
        selector=None,
        applicable_interfaces=interfaces or None,
        request_formats=_strings(channel.config.get("request_formats")),
    )


def _parameters(schema: Mapping[str, Any] | None) -> list[ParameterRequirement]:
    if not schema:
        return []
    props = schema.get("properties")
    required = set(schema.get("required") or ())
    if not isinstance(props, Mapping):
        return []
    return [
        ParameterRequirement(
            name=name,
            description=spec.get("description") if isinstance(spec, Mapping) else None,
            required=name in required,
            names_secret=name.endswith("_secret"),
        )
        for name, spec in props.items()
    ]


def _enrollment_mode(service: CatalogService) -> str:
    if service.enrollment_required:
        return "required"
    if any(c.needs_enrollment for c in service.channels if c.is_active):
        return "optional"
    return "disallowed"


def access_plan(catalog: Catalog, service: CatalogService) -> AccessPlan:
    """The context-free access plan of ``service`` (identical for every caller)."""
    endpoints: list[RoutingEndpointPlan] = []
    visible = visible_platform_groups(catalog)
    for group in catalog.groups_of(service.id):
        if group not in visible or not group.is_routable:
            continue
        member = next(m for m in group.members if m.service_id == service.id)
        key = member.routing_key or service.native_routing_key
        base = (
            catalog.render_url(group.interface.base_url)
            if group.interface is not None
            else f"{catalog.gateway_base_url}/g/{group.name}"
        )
        endpoints.append(
            RoutingEndpointPlan(
                base_url=base,
                routing_key=thaw(key) if key else None,
                routing_key_required=group.group_type == "keyed",
            )
        )
    return AccessPlan(
        enrollment_mode=_enrollment_mode(service),
        parameters=_parameters(service.user_parameters_schema),
        interfaces=[
            AccessInterfacePlan(
                name=i.name,
                base_url=catalog.render_url(i.base_url),
                routing_key=thaw(i.routing_key) if i.routing_key else None,
                description=i.description,
            )
            for i in shared_interfaces(service)
        ],
        channels=[_channel_plan(service, c) for c in service.channels if c.is_active],
        routing_endpoints=endpoints,
        input_formats=_strings(service.details.get("input_formats")),
        gateway_type=GATEWAY_TYPE,
    )
