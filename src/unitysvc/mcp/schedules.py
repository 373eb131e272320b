"""Recurrent-request tools: gateway calls the platform makes for the customer on a schedule.

Creating one spends money on every run and deleting one loses its history, so both
preview first and act only with ``confirm=true``; pausing, resuming and triggering
one run are single, reversible steps and act at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from unitysvc._gateway import join_url
from unitysvc.mcp._results import jsonable
from unitysvc.mcp._toolbox import BODY_CHARS, Toolbox, clip_json, drop_none
from unitysvc.mcp.account import Confirm

__all__ = ["register"]

RequestId = Annotated[
    str, Field(description="The recurrent request's UUID (list_recurrent_requests).", min_length=1)
]


def register(server: MCPServer[Any], box: Toolbox) -> None:
    """Add the recurrent-request tools to ``server``."""
    client, out = box.client, box.out
    recurrent = client.recurrent_requests

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=False))
    @out.guard
    async def list_recurrent_requests(
        status: Annotated[
            Literal["draft", "active", "paused", "cancelled"] | None,
            Field(description="Only requests in this status."),
        ] = None,
        service_id: Annotated[
            str | None, Field(description="Only requests calling this service (UUID).")
        ] = None,
    ) -> CallToolResult:
        """List your recurrent requests: gateway calls the platform makes on a schedule.

        Each has its schedule, status and state (run count, last status, next run).
        """
        rows = [r async for r in recurrent.iter(status=status, service_id=service_id)]
        return out.result({"recurrent_requests": jsonable(rows), "count": len(rows)})

    @server.tool(annotations=ToolAnnotations(destructiveHint=False, openWorldHint=True))
    @out.guard
    async def create_recurrent_request(
        service_id: Annotated[
            str | None,
            Field(description="Call this service (UUID) at its interface on each run."),
        ] = None,
        gateway_path: Annotated[
            str | None,
            Field(description="Or call this gateway path, e.g. 'g/llm' or 'e/<CODE>'."),
        ] = None,
        path: Annotated[
            str, Field(description="Sub-path after the target, e.g. 'chat/completions'.")
        ] = "",
        method: Annotated[
            Literal["GET", "POST", "PUT", "PATCH", "DELETE"], Field(description="HTTP method.")
        ] = "POST",
        json_body: Annotated[
            dict[str, Any] | None, Field(description="JSON object sent on every run.")
        ] = None,
        every_seconds: Annotated[
            int | None, Field(ge=1, description="Run every N seconds (or give cron).")
        ] = None,
        cron: Annotated[
            str | None, Field(description="Or a cron expression, e.g. '0 9 * * 1-5'.")
        ] = None,
        timezone: Annotated[str, Field(description="Timezone of cron, e.g. 'UTC'.")] = "UTC",
        name: Annotated[str | None, Field(description="A label to find it by.")] = None,
        confirm: Confirm = False,
    ) -> CallToolResult:
        """Schedule a call to run repeatedly. Previews first: nothing happens without confirm=true.

        Give one target (service_id or gateway_path) and one schedule (every_seconds
        or cron). Every run is a paid call at the service's price, made as you.
        """
        if (service_id is None) == (gateway_path is None):
            raise out.error("give exactly one target: service_id or gateway_path")
        if (every_seconds is None) == (cron is None):
            raise out.error("give exactly one schedule: every_seconds or cron")
        schedule: dict[str, Any] = (
            {"schedule_type": "interval", "interval_seconds": every_seconds}
            if every_seconds is not None
            else {"schedule_type": "cron", "cron_expression": cron, "timezone": timezone}
        )
        target = f"service {service_id}" if service_id else f"gateway path {gateway_path}"
        if not confirm:
            return out.result(
                drop_none(
                    {
                        "confirmed": False,
                        "would": f"create an active recurrent request calling {method} "
                        f"{target}{'/' + path if path else ''} on schedule {schedule}; "
                        "each run is a paid call",
                        "schedule": schedule,
                        "body": json_body,
                        "name": name,
                        "to_proceed": "call create_recurrent_request again with the same "
                        "arguments and confirm=true",
                    }
                )
            )
        if service_id is not None:
            created = await client.services.schedule(
                service_id,
                recurrence=schedule,
                path=path,
                method=method,
                json=json_body,
                name=name,
            )
        else:
            url = join_url(join_url(client.api_base_url, str(gateway_path).strip("/")), path)
            payload = drop_none(
                {
                    "request_path": url,
                    "http_method": method,
                    "body_template": json_body,
                    "name": name,
                }
            )
            draft = await recurrent.create(payload)
            created = await recurrent.update(draft.id, {"schedule": schedule})
        return out.result({"confirmed": True, "recurrent_request": jsonable(created)})

    @server.tool(annotations=ToolAnnotations(idempotentHint=True, openWorldHint=False))
    @out.guard
    async def set_recurrent_request_status(
        request_id: RequestId,
        status: Annotated[
            Literal["paused", "active"],
            Field(description="'paused' stops the runs; 'active' resumes them."),
        ],
    ) -> CallToolResult:
        """Pause or resume a recurrent request.

        'paused' stops its scheduled runs and keeps it (state and history) for later;
        'active' resumes the schedule from now.
        """
        updated = await recurrent.update(request_id, {"status": status})
        return out.result({"recurrent_request": jsonable(updated)})

    @server.tool(annotations=ToolAnnotations(idempotentHint=False, openWorldHint=True))
    @out.guard
    async def trigger_recurrent_request(request_id: RequestId) -> CallToolResult:
        """Run a recurrent request once now (a paid call) and return the upstream's answer."""
        answer, cut = clip_json(await recurrent.trigger(request_id), BODY_CHARS)
        return out.result(drop_none({"response": answer, "truncated": cut or None}))

    @server.tool(annotations=ToolAnnotations(destructiveHint=True, openWorldHint=False))
    @out.guard
    async def delete_recurrent_request(
        request_id: RequestId, confirm: Confirm = False
    ) -> CallToolResult:
        """Delete a recurrent request and its schedule. Previews first: needs confirm=true."""
        current = await recurrent.get(request_id)
        if not confirm:
            return out.result(
                {
                    "confirmed": False,
                    "would": f"delete recurrent request {current.id} ({current.status}, "
                    f"{current.name or 'unnamed'}); its schedule stops and it cannot be "
                    "restored (pause it instead to keep it)",
                    "recurrent_request": jsonable(current),
                    "to_proceed": "call delete_recurrent_request again with confirm=true",
                }
            )
        await recurrent.delete(current.id)
        return out.result({"confirmed": True, "deleted": str(current.id)})
