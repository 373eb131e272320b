"""Catalog tools and resources: find services and groups, read how to use a service.

Readable without an API key. A service's documents are also MCP resources at
``unitysvc://services/{service_id}/documents/{document_id}``; the tools that list
documents return those URIs (and resource links) so an agent can read one whole.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import CallToolResult, ResourceLink, ToolAnnotations
from pydantic import Field

from unitysvc.exceptions import NotFoundError, UnitysvcSDKError
from unitysvc.mcp._results import jsonable
from unitysvc.mcp._toolbox import (
    DOCUMENT_CHARS,
    RESOURCE_CHARS,
    Toolbox,
    clip,
    document_uri,
    drop_none,
)

__all__ = ["register"]

#: The platform group that holds every public service.
ALL_SERVICES = "all_services"

#: Document ``mime_type`` values (as the catalog names them) to MIME types.
_MIME_TYPES = {
    "markdown": "text/markdown",
    "python": "text/x-python",
    "bash": "text/x-shellscript",
    "javascript": "text/javascript",
    "typescript": "text/x-typescript",
    "json": "application/json",
    "html": "text/html",
    "text": "text/plain",
}

_READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)

ServiceId = Annotated[
    str,
    Field(
        description="The service's UUID (or a unique prefix of it), as search_services returns.",
        min_length=1,
    ),
]


def _mime(kind: str | None) -> str:
    return _MIME_TYPES.get((kind or "").lower(), "text/plain")


def _document_entry(service_id: str, doc: Any) -> dict[str, Any]:
    return drop_none(
        {
            "id": str(doc.id),
            "title": doc.title,
            "category": doc.category,
            "mime_type": doc.mime_type,
            "filename": doc.filename,
            "description": doc.description,
            "external_url": doc.external_url,
            "uri": document_uri(service_id, doc.id),
        }
    )


def _link(service_id: str, doc: Any) -> ResourceLink:
    return ResourceLink(
        type="resource_link",
        uri=document_uri(service_id, doc.id),
        name=doc.filename or str(doc.id),
        title=doc.title,
        mime_type=_mime(doc.mime_type),
    )


def _next_steps(plan: Any) -> list[str]:
    """What an agent does next with this service, from its access plan."""
    steps: list[str] = []
    mode = plan.enrollment_mode
    if mode == "required":
        steps.append(
            "enrollment required: call enroll (it previews first) with the parameters "
            "listed in access_plan.parameters, then dispatch with enrollment_code"
        )
    elif mode == "optional":
        steps.append("callable directly; enroll to bring your own key or endpoint")
    secrets = {s.name for c in plan.channels or [] for s in c.required_secrets or []}
    if secrets:
        steps.append(
            "needs customer secrets " + ", ".join(sorted(secrets)) + " (set them with usvc "
            "secrets set, never through this conversation)"
        )
    if mode != "required":
        steps.append("call it with dispatch(service_id=..., path=...)")
    return steps


def register(server: MCPServer[Any], box: Toolbox) -> None:
    """Add the catalog tools and the document resources to ``server``."""
    _register_browsing(server, box)
    _register_service_details(server, box)
    _register_document_resource(server, box)


def _register_browsing(server: MCPServer[Any], box: Toolbox) -> None:
    client, out = box.client, box.out

    @server.tool(annotations=_READ)
    @out.guard
    async def search_services(
        query: Annotated[
            str | None,
            Field(
                description="Case-insensitive text matched against service names and "
                "providers, e.g. 'llama' or 'openai'. Omit to list everything."
            ),
        ] = None,
        group: Annotated[
            str,
            Field(
                description="Search within this group (list_groups shows them); "
                f"'{ALL_SERVICES}' holds every public service."
            ),
        ] = ALL_SERVICES,
        limit: Annotated[int, Field(ge=1, le=100, description="Services per page.")] = 20,
        cursor: Annotated[
            str | None, Field(description="next_cursor of the previous page, for the next one.")
        ] = None,
    ) -> CallToolResult:
        """Search the UnitySVC marketplace catalog for services (LLMs, APIs, proxies).

        Returns each service's id, name, type and gateway path, newest first. Use
        get_service on an id for its price, access plan and examples.
        """
        page = await client.groups.services(group, search=query, limit=limit, cursor=cursor)
        return out.result(
            drop_none(
                {
                    "group": group,
                    "services": [{**jsonable(s.record), "gateway_path": s.path} for s in page.data],
                    "next_cursor": page.next_cursor if page.has_more else None,
                }
            )
        )

    @server.tool(annotations=_READ)
    @out.guard
    async def list_groups(
        owner: Annotated[
            Literal["all", "system", "own"],
            Field(
                description="'system': the platform's groups; 'own': your collections "
                "(needs an API key); 'all': both."
            ),
        ] = "all",
        name: Annotated[
            str | None, Field(description="Only groups whose name contains this text.")
        ] = None,
    ) -> CallToolResult:
        """List service groups: sets of interchangeable services behind one endpoint.

        A group with an interface can be called as a whole with dispatch(group=...):
        its routing policy picks a member (e.g. by the request's model).
        """
        page = await client.groups.list(owner=owner, name=name)
        groups = [{**jsonable(g.record), "gateway_path": g.path} for g in page.data]
        return out.result({"groups": groups, "count": page.count})


def _register_service_details(server: MCPServer[Any], box: Toolbox) -> None:
    client, out = box.client, box.out

    @server.tool(annotations=_READ)
    @out.guard
    async def get_service(service_id: ServiceId) -> CallToolResult:
        """Show one service: details, price per channel, how to access it, and its documents.

        The access plan says whether an enrollment is needed (enrollment_mode), with
        which parameters and secrets, the interfaces to call and each channel's price.
        Documents (code examples, quickstarts) are listed with resource URIs; read
        them with read_service_documents or as resources.
        """
        service = await client.services.get(service_id)
        sid = str(service.id)
        plan = await client.services.access_plan(sid)
        docs = await client.services.documents(sid)
        documents = docs.documents or []
        return out.result(
            {
                "service": jsonable(service.record),
                "gateway_path": service.path,
                "access_plan": jsonable(plan),
                "documents": [_document_entry(sid, d) for d in documents],
                "next_steps": _next_steps(plan),
            },
            links=[_link(sid, d) for d in documents],
        )

    @server.tool(annotations=_READ)
    @out.guard
    async def read_service_documents(
        service_id: ServiceId,
        category: Annotated[
            str | None,
            Field(
                description="Only this category: 'code_example', 'getting_started', "
                "'api_reference', ... Omit for all."
            ),
        ] = None,
        mime_type: Annotated[
            str | None,
            Field(description="Only this kind: 'python', 'bash', 'markdown', ..."),
        ] = None,
    ) -> CallToolResult:
        """Read a service's documents with their content: code examples, quickstarts.

        Code examples come rendered against the service's interface (its real base
        URL filled in). Each document's content is cut at 12,000 characters
        (truncated: true); read its uri as a resource for the whole text.
        """
        docs = await client.services.documents(
            service_id, category=category, mime_type=mime_type, include_content=True
        )
        entries = []
        for doc in docs.documents or []:
            entry = _document_entry(service_id, doc)
            if doc.content is not None:
                entry["content"], cut = clip(doc.content, DOCUMENT_CHARS)
                if cut:
                    entry["truncated"] = True
            if doc.render_error:
                entry["render_error"] = doc.render_error
            entries.append(entry)
        return out.result(
            drop_none({"interface": docs.interface, "documents": entries}),
            links=[_link(service_id, d) for d in docs.documents or []],
        )


def _register_document_resource(server: MCPServer[Any], box: Toolbox) -> None:
    client, out = box.client, box.out

    @server.resource(
        "unitysvc://services/{service_id}/documents/{document_id}",
        name="service-document",
        title="Service document",
        description="One public document of a catalog service (code example, quickstart, "
        "API reference), rendered against the service's interface.",
    )
    async def service_document(service_id: str, document_id: str) -> str:
        try:
            found = await client.services.document(service_id, document_id)
        except NotFoundError as exc:
            raise ResourceNotFoundError(out.scrub(out.describe(exc))) from None
        except UnitysvcSDKError as exc:
            raise ResourceError(out.scrub(out.describe(exc))) from None
        if not found.documents:
            raise ResourceNotFoundError(f"service {service_id} has no document {document_id}")
        doc = found.documents[0]
        if doc.render_error:
            raise ResourceError(f"the document could not be rendered: {doc.render_error}")
        if doc.content is None:
            if doc.external_url:
                return f"This document is hosted elsewhere: {doc.external_url}\n"
            raise ResourceError("the document has no text content")
        text, cut = clip(doc.content, RESOURCE_CHARS)
        return out.scrub(text + ("\n…(truncated)\n" if cut else ""))
