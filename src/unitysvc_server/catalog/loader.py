"""Load seller catalogs in the platform's own data format, validated with unitysvc-core.

Layout of one catalog directory (the seller repository layout)::

    <dir>/provider.toml|json
    <dir>/services/<svc>/offering.json|toml     (+ offering.override.*)
    <dir>/services/<svc>/listing.json|toml      (+ listing.override.*)
    <dir>/services/<svc>/service.json           (optional identity sidecar)

A directory holding several providers (``<dir>/<provider>/provider.toml``) is
accepted too. Files are read with core's ``load_data_file`` (which expands
``$doc_preset`` documents), overrides are deep-merged over their base file,
and the result is validated with core's ``ProviderV1`` / ``OfferingV1`` /
``ListingV1`` models and ``validate_pricing``.

Catalogs written against older core versions (the groq catalog) are
normalised first: the legacy ``schema`` field is dropped, a missing offering
``summary`` comes from its description, a missing listing ``name`` is
``<provider>/<offering name>``, and channel names with characters core no
longer allows are slugged. Service folders without an offering or a listing
are skipped and named in one warning line per catalog; invalid services
likewise, with the reason.

The upstream map (``Settings.upstreams``) is *not* applied here: the catalog
stays faithful to the files and the gateway rewrites origins at call time.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from unitysvc_server.catalog.model import (
    CatalogDocument,
    CatalogService,
    ServiceInterface,
    UpstreamChannel,
    freeze,
    stable_id,
)

if TYPE_CHECKING:
    from unitysvc_core.models import ProviderV1

logger = logging.getLogger(__name__)

_DATA_SUFFIXES = (".json", ".toml")
_TEXT_MIME = frozenset({"markdown", "python", "javascript", "bash", "html", "json", "text", "svg"})
_CHANNEL_BAD = re.compile(r"[^A-Za-z0-9._-]+")
_SERVICE_NAME_TAG = re.compile(r"\{\{\s*service_name\s*\}\}")

_LISTING_STATUS = {"ready": "active", "deprecated": "deprecated", "draft": "draft"}


class CatalogError(ValueError):
    """A catalog cannot be loaded at all (missing provider file, unreadable directory)."""


@dataclass
class LoadReport:
    """What loading one catalog directory produced.

    Attributes:
        source: The directory.
        services: The loaded services.
        incomplete: Service folders skipped for lack of an offering or listing.
        invalid: Service folders skipped because validation failed, with why.
    """

    source: Path
    services: list[CatalogService] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)

    def log_warnings(self) -> None:
        """Emit one warning line for incomplete and one for invalid services."""
        if self.incomplete:
            logger.warning(
                "catalog %s: skipped %d incomplete service(s) (no offering or listing file): %s",
                self.source,
                len(self.incomplete),
                ", ".join(self.incomplete),
            )
        if self.invalid:
            logger.warning(
                "catalog %s: skipped %d invalid service(s): %s",
                self.source,
                len(self.invalid),
                "; ".join(f"{name} ({why})" for name, why in self.invalid),
            )


# -- files ---------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    from unitysvc_core.utils import load_data_file

    data, _format = load_data_file(path)
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected an object at the top level")
    return data


def _find(directory: Path, stem: str) -> Path | None:
    for suffix in _DATA_SUFFIXES:
        candidate = directory / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _load_with_override(directory: Path, stem: str) -> dict[str, Any] | None:
    from unitysvc_core.utils import deep_merge_dicts

    base = _find(directory, stem)
    if base is None:
        return None
    data = _load(base)
    override = _find(directory, f"{stem}.override")
    if override is not None:
        data = deep_merge_dicts(data, _load(override))
    return data


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        loc = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{loc}: {error['msg']}")
    more = f" (+{exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return "; ".join(parts) + more


# -- legacy normalisation ------------------------------------------------------------------


def _normalize_provider(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out.pop("schema", None)
    return out


def _normalize_offering(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out.pop("schema", None)
    if not out.get("summary"):
        text = str(out.get("description") or out.get("display_name") or out.get("name") or "")
        out["summary"] = text.strip().splitlines()[0][:200] if text.strip() else "-"
    channels = out.get("upstream_access_config")
    if isinstance(channels, Mapping):
        renamed: dict[str, Any] = {}
        for name, config in channels.items():
            slug = _CHANNEL_BAD.sub("-", str(name)).strip("-.") or "default"
            renamed[slug] = config
        out["upstream_access_config"] = renamed
    return out


def _normalize_listing(
    data: Mapping[str, Any], provider_name: str, offering_name: str
) -> dict[str, Any]:
    out = dict(data)
    out.pop("schema", None)
    out.pop("service_id", None)
    if not out.get("name"):
        prefixed = offering_name.startswith(f"{provider_name}/")
        out["name"] = offering_name if prefixed else f"{provider_name}/{offering_name}"
    return out


# -- building services -----------------------------------------------------------------------


def _document(
    owner_id: uuid.UUID, title: str, doc: Any, base_dir: Path | None
) -> CatalogDocument | None:
    if not doc.is_active:
        return None
    content: str | None = None
    filename: str | None = None
    mime = str(doc.mime_type)
    if doc.file_path:
        path = Path(doc.file_path)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        filename = path.name
        if mime in _TEXT_MIME and path.is_file():
            try:
                content = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                content = None
    return CatalogDocument(
        id=stable_id("document", f"{owner_id}:{title}"),
        title=title,
        category=str(doc.category),
        mime_type=mime,
        description=doc.description,
        is_public=bool(doc.is_public),
        content=content,
        filename=filename,
        external_url=doc.external_url,
        renderable=bool(filename and filename.endswith(".j2")),
        sort_order=doc.sort_order,
        version=doc.version,
        meta=freeze(doc.meta or {}),
    )


def _interface(name: str, data: Any, service_name: str) -> ServiceInterface:
    # {{ service_name }} is static per service: substitute it now so the
    # gateway-path index is exact; the gateway placeholder stays for rendering.
    base_url = _SERVICE_NAME_TAG.sub(service_name, data.base_url)
    return ServiceInterface(
        name=name,
        base_url=base_url,
        routing_key=freeze(data.routing_key) if data.routing_key else None,
        description=data.description,
        sort_order=data.sort_order,
        is_active=data.is_active,
        access_method=str(data.access_method),
    )


def validate_provider(provider: Mapping[str, Any]) -> ProviderV1:
    """Validate provider data with unitysvc-core (legacy ``schema`` tolerated).

    Raises:
        pydantic.ValidationError: The data is not a valid provider.
    """
    from unitysvc_core.models import ProviderV1

    return ProviderV1.model_validate(_normalize_provider(provider))


def build_service(
    provider: Mapping[str, Any] | ProviderV1,
    offering: Mapping[str, Any],
    listing: Mapping[str, Any],
    *,
    service_id: uuid.UUID | None = None,
    seller_name: str | None = None,
    base_dir: Path | None = None,
) -> CatalogService:
    """Validate one provider/offering/listing triple with unitysvc-core and merge it.

    Args:
        provider: Provider data (``ProviderV1``; legacy ``schema`` tolerated), or
            the model :func:`validate_provider` returned (a directory's services
            share one provider, validated once).
        offering: Offering data (``OfferingV1``).
        listing: Listing data (``ListingV1``), overrides already merged.
        service_id: The service id; None derives a stable one from the listing name.
        seller_name: The seller; defaults to the provider name.
        base_dir: Directory relative document paths are resolved against.

    Raises:
        ValueError: Validation failed (a pydantic ``ValidationError`` or a
            message naming the offending field).
    """
    from unitysvc_core.models import ListingV1, OfferingV1

    provider_model = validate_provider(provider) if isinstance(provider, Mapping) else provider
    offering_model = OfferingV1.model_validate(_normalize_offering(offering))
    listing_model = ListingV1.model_validate(
        _normalize_listing(listing, provider_model.name, offering_model.name)
    )
    # Keep the seller's price object as written (the model adds a computed
    # summary); ListingV1 has already validated it.
    raw_price = listing.get("list_price")
    list_price = dict(raw_price) if isinstance(raw_price, Mapping) else None
    name = listing_model.name
    sid = service_id or stable_id("service", name)
    options = dict(listing_model.service_options or {})
    schema = listing_model.user_parameters_schema
    enrollment_opts = options.get("enrollment")
    enrollment_required = bool(schema) or (
        isinstance(enrollment_opts, Mapping) and bool(enrollment_opts.get("required"))
    )
    channels = sorted(
        (
            UpstreamChannel.from_config(cname, config)
            for cname, config in offering_model.upstream_access_config.items()
        ),
        key=lambda c: (c.sort_order, c.name),
    )
    interfaces = sorted(
        (
            _interface(iname, data, name)
            for iname, data in (listing_model.user_access_interfaces or {}).items()
        ),
        key=lambda i: (i.sort_order, i.name),
    )
    documents = [
        _document(sid, title, doc, base_dir)
        for source in (listing_model.documents, offering_model.documents)
        for title, doc in (source or {}).items()
    ]
    created = listing_model.time_created
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    visibility = str(options.get("default_visibility") or "public")
    return CatalogService(
        id=sid,
        name=name,
        display_name=listing_model.display_name or offering_model.display_name,
        summary=offering_model.summary,
        description=offering_model.description,
        provider_name=provider_model.name,
        seller_name=seller_name or provider_model.name,
        offering_name=offering_model.name,
        service_type=str(offering_model.service_type),
        status=_LISTING_STATUS.get(str(listing_model.status), "draft"),
        visibility=visibility,
        capabilities=tuple(offering_model.capabilities or ()),
        tags=tuple(offering_model.tags or ()),
        list_price=freeze(list_price) if list_price is not None else None,
        currency=str(listing_model.currency),
        interfaces=tuple(interfaces),
        channels=tuple(channels),
        user_parameters_schema=freeze(schema) if schema else None,
        enrollment_required=enrollment_required,
        documents=tuple(d for d in documents if d is not None),
        details=freeze(offering_model.details or {}),
        service_options=freeze(options),
        created_at=created.astimezone(UTC),
    )


def _service_id(directory: Path, listing: Mapping[str, Any]) -> uuid.UUID | None:
    raw = listing.get("service_id")
    if raw is None:
        sidecar = _find(directory, "service")
        if sidecar is not None:
            raw = _load(sidecar).get("service_id")
    if raw is None:
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError as exc:
        raise ValueError(f"service_id {raw!r} is not a UUID") from exc


def _provider_dirs(root: Path) -> list[Path]:
    if _find(root, "provider") is not None:
        return [root]
    found = sorted(p for p in root.iterdir() if p.is_dir() and _find(p, "provider") is not None)
    if not found:
        raise CatalogError(
            f"{root}: no provider.toml or provider.json here or in a direct sub-directory"
        )
    return found


def load_catalog_dir(root: Path) -> LoadReport:
    """Load every service of the catalog directory ``root``.

    Raises:
        CatalogError: ``root`` is missing or holds no provider file, or a
            provider file is invalid.
    """
    root = Path(root)
    if not root.is_dir():
        raise CatalogError(f"{root}: not a directory")
    report = LoadReport(root)
    for provider_dir in _provider_dirs(root):
        provider_file = _find(provider_dir, "provider")
        assert provider_file is not None
        try:
            provider = validate_provider(_load(provider_file))
        except ValidationError as exc:
            raise CatalogError(f"{provider_file}: {_validation_message(exc)}") from exc
        services_dir = provider_dir / "services"
        if not services_dir.is_dir():
            continue
        for service_dir in sorted(p for p in services_dir.iterdir() if p.is_dir()):
            label = service_dir.name
            try:
                offering = _load_with_override(service_dir, "offering")
                listing = _load_with_override(service_dir, "listing")
                if offering is None or listing is None:
                    report.incomplete.append(label)
                    continue
                service = build_service(
                    provider,
                    offering,
                    listing,
                    service_id=_service_id(service_dir, listing),
                    base_dir=service_dir,
                )
            except ValidationError as exc:
                report.invalid.append((label, _validation_message(exc)))
                continue
            except (ValueError, OSError) as exc:
                report.invalid.append((label, str(exc)))
                continue
            report.services.append(service)
    return report


def load_catalogs(dirs: Sequence[Path]) -> list[CatalogService]:
    """Load several catalog directories, logging each one's skipped services.

    Raises:
        CatalogError: A directory cannot be loaded at all.
    """
    services: list[CatalogService] = []
    for directory in dirs:
        report = load_catalog_dir(directory)
        report.log_warnings()
        logger.info("catalog %s: loaded %d service(s)", directory, len(report.services))
        services.extend(report.services)
    return services
