"""The ``dispatch`` tool: call a service, a group or any gateway path, and read the answer.

The answer is the HTTP response as an agent can use it: the status, the headers that
say something about the call (which service answered, cache, failover, request id,
rate limits) and the body, JSON parsed when it fits the size limit, else its text cut
there (``truncated: true``). A 4xx/5xx answer is a tool error (``isError``) carrying
the same summary, so the agent sees the platform's or the upstream's message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from unitysvc._gateway import PathTarget, Wrappable
from unitysvc.mcp._toolbox import BODY_CHARS, BODY_CHARS_MAX, Toolbox, clip, clip_json

if TYPE_CHECKING:
    import httpx

__all__ = ["register", "summarize"]

#: Response headers worth an agent's attention (besides every ``x-unitysvc-*``).
_HEADERS = frozenset(
    {"content-type", "x-request-id", "retry-after", "location", "cache-control", "etag"}
)
_HEADER_PREFIXES = ("x-unitysvc-", "x-ratelimit-", "ratelimit-")
_TEXT_TYPES = ("json", "xml", "javascript", "x-www-form-urlencoded", "event-stream", "yaml")


def _interesting(name: str) -> bool:
    lower = name.lower()
    return lower in _HEADERS or lower.startswith(_HEADER_PREFIXES)


def _is_text(content_type: str, content: bytes) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith("text/") or any(marker in kind for marker in _TEXT_TYPES):
        return True
    if kind:
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def summarize(response: httpx.Response, max_body_chars: int) -> dict[str, Any]:
    """A gateway response as a tool answer (status, headers of interest, body).

    Args:
        response: The gateway's response, its body read.
        max_body_chars: Cut the body's text here.

    Returns:
        ``status``, ``ok``, ``url``, ``headers``, ``body`` and, when cut,
        ``truncated`` with the full size in ``body_chars``.
    """
    content_type = response.headers.get("content-type", "")
    summary: dict[str, Any] = {
        "status": response.status_code,
        "ok": response.is_success,
        "url": str(response.request.url),
        "headers": {k.lower(): v for k, v in response.headers.items() if _interesting(k)},
    }
    content = response.content
    if not content:
        summary["body"] = None
        return summary
    if not _is_text(content_type, content):
        summary["body"] = None
        summary["body_note"] = (
            f"binary body of {len(content)} bytes ({content_type or 'no content-type'}) not shown"
        )
        return summary
    text = response.text
    cut = False
    body: Any = text
    if "json" in content_type.lower():
        try:
            body, cut = clip_json(response.json(), max_body_chars)
        except ValueError:
            body, cut = clip(text, max_body_chars)
    else:
        body, cut = clip(text, max_body_chars)
    summary["body"] = body
    if cut:
        summary["truncated"] = True
        summary["body_chars"] = len(text)
    return summary


def register(server: MCPServer[Any], box: Toolbox) -> None:
    """Add the ``dispatch`` tool to ``server``."""
    client, out = box.client, box.out

    async def _target(
        service_id: str | None, group: str | None, gateway_path: str | None
    ) -> Wrappable[Any]:
        if service_id is not None:
            service: Wrappable[Any] = await client.services.get(service_id)
            return service
        return PathTarget(client, f"g/{group}" if group is not None else str(gateway_path))

    @server.tool(
        annotations=ToolAnnotations(
            readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True
        )
    )
    @out.guard
    async def dispatch(
        service_id: Annotated[
            str | None,
            Field(description="Call this service (UUID from search_services) at its interface."),
        ] = None,
        group: Annotated[
            str | None,
            Field(description="Call this group (e.g. 'llm'); its routing picks a member."),
        ] = None,
        gateway_path: Annotated[
            str | None,
            Field(
                description="Or any gateway path: 'e/<CODE>' (an enrollment), 'a/<alias>', "
                "'g/<group>', 'p/<service-id>', with or without a sub-path."
            ),
        ] = None,
        path: Annotated[
            str,
            Field(description="Sub-path after the target, e.g. 'chat/completions' or 'models'."),
        ] = "",
        method: Annotated[
            Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None,
            Field(description="HTTP method; default POST with a body, else GET."),
        ] = None,
        json_body: Annotated[
            Any,
            Field(
                description="JSON request body, e.g. {'model': 'x', 'messages': [{'role': "
                "'user', 'content': 'hi'}]}. Prefer non-streaming requests."
            ),
        ] = None,
        text_body: Annotated[
            str | None, Field(description="Raw text body instead of json_body.")
        ] = None,
        headers: Annotated[
            dict[str, str] | None,
            Field(description="Extra request headers (the API key is added for you)."),
        ] = None,
        log: Annotated[
            bool,
            Field(description="Record this call in your request log even if logging is off."),
        ] = False,
        cache_ttl: Annotated[
            str | None,
            Field(
                description="Serve identical repeats from the gateway cache for this long: "
                "'60s', '5m', '1h', '1d' (max '7d')."
            ),
        ] = None,
        timeout_seconds: Annotated[
            float | None, Field(gt=0, le=600, description="Give up after this many seconds.")
        ] = None,
        max_body_chars: Annotated[
            int,
            Field(
                ge=100,
                le=BODY_CHARS_MAX,
                description="Cut the response body's text here (default 16000).",
            ),
        ] = BODY_CHARS,
    ) -> CallToolResult:
        """Call a marketplace service through the UnitySVC gateway and return its HTTP response.

        Give exactly one target: service_id, group or gateway_path; then the
        sub-path and body, as the service's API expects (get_service shows its
        interface and code examples). This spends money at the service's price.
        The answer has the status, the headers of interest (x-unitysvc-service-id
        names the service that answered) and the body, JSON parsed when it fits
        max_body_chars (else cut: truncated=true). A 4xx/5xx answer is an error
        result with the same content.
        """
        chosen = [
            name
            for name, value in (
                ("service_id", service_id),
                ("group", group),
                ("gateway_path", gateway_path),
            )
            if value
        ]
        if len(chosen) != 1:
            raise out.error(
                "give exactly one target: service_id, group or gateway_path"
                + (f" (got {', '.join(chosen)})" if chosen else "")
            )
        if json_body is not None and text_body is not None:
            raise out.error("give json_body or text_body, not both")
        has_body = json_body is not None or text_body is not None
        request: dict[str, Any] = {
            "method": method or ("POST" if has_body else "GET"),
            "json": json_body,
            "data": text_body,
            "headers": headers,
            "timeout": timeout_seconds,
        }
        if log or cache_ttl:
            target = await _target(service_id, group, gateway_path)
            wrapped = target.logged() if log else target.cached(ttl=cache_ttl)
            if log and cache_ttl:
                wrapped = wrapped.cached(ttl=cache_ttl)
            response = await wrapped.dispatch(path=path, **request)
        elif service_id is not None:
            response = await client.services.dispatch(service_id, path=path, **request)
        elif group is not None:
            response = await client.groups.dispatch(group, path=path, **request)
        else:
            full = f"{str(gateway_path).strip('/')}/{path.lstrip('/')}" if path else gateway_path
            response = await client.dispatch(str(full), **request)
        summary = summarize(response, max_body_chars)
        return out.result(summary, is_error=not response.is_success)
