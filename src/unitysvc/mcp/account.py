"""Account tools: enrollments (with a preview before acting), request logs, usage.

Each needs an API key. ``enroll`` and ``cancel_enrollment`` change the account: called
without ``confirm=true`` they change nothing and answer what would happen, joined
with the customer's own context (existing enrollments, secrets present or missing),
which the access plan deliberately leaves to its consumers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from unitysvc.mcp._results import jsonable
from unitysvc.mcp._toolbox import LOG_BODY_CHARS, Toolbox, clip_json, drop_none
from unitysvc.mcp.catalog import ServiceId

__all__ = ["register"]

_READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)

EnrollmentStatus = Literal["pending", "incomplete", "active", "paused", "cancelled"]

Confirm = Annotated[
    bool,
    Field(
        description="false (default): change nothing and answer what would happen. "
        "true: do it. Preview first unless the user already asked for exactly this."
    ),
]


def _enrollment(enrollment: Any) -> dict[str, Any]:
    data: dict[str, Any] = jsonable(enrollment)
    data.pop("owner_id", None)
    if enrollment.code:
        data["gateway_path"] = f"e/{enrollment.code}"
    return data


def _unique(names: list[str]) -> list[str]:
    return sorted(set(names))


async def _existing(client: Any, service_id: str) -> list[Any]:
    return [
        e
        async for e in client.enrollments.iter()
        if str(e.service_id) == service_id and e.status != "cancelled"
    ]


async def _enroll_preview(box: Toolbox, service: Any, given: dict[str, Any]) -> dict[str, Any]:
    client = box.client
    sid = str(service.id)
    plan = await client.services.access_plan(sid)
    specs = plan.parameters or []
    known = {p.name for p in specs}
    needed_secrets = _unique(
        [s.name for c in plan.channels or [] for s in c.required_secrets or []]
    )
    warnings = _parameter_warnings(specs, known, given)
    if plan.enrollment_mode == "disallowed":
        warnings.append(
            "this service needs no enrollment: dispatch(service_id=...) calls it directly"
        )
    existing: list[dict[str, Any]] = []
    missing_secrets: list[str] | None = None
    if box.has_key:
        existing, missing_secrets = await _account_state(client, sid, needed_secrets, warnings)
    else:
        warnings.append("no API key configured: enrolling needs UNITYSVC_API_KEY")
    return drop_none(
        {
            "confirmed": False,
            "would": f"enroll in {service.name} ({sid}) with "
            + (f"parameters {sorted(given)}" if given else "no parameters")
            + "; the platform activates it in the background",
            "service": {"id": sid, "name": service.name},
            "enrollment_mode": plan.enrollment_mode,
            "parameters": [{**jsonable(p), "provided": p.name in given} for p in specs],
            "channels": [
                drop_none(
                    {
                        "name": c.name,
                        "type": c.channel_type,
                        "price": "free" if c.free else c.price,
                        "price_description": c.price_description,
                        "currency": c.currency,
                        "requires_enrollment": c.requires_enrollment,
                    }
                )
                for c in plan.channels or []
            ],
            "required_secrets": needed_secrets,
            "missing_secrets": missing_secrets,
            "existing_enrollments": existing,
            "warnings": warnings,
            "to_proceed": "call enroll again with the same arguments and confirm=true",
        }
    )


async def _account_state(
    client: Any, sid: str, needed_secrets: list[str], warnings: list[str]
) -> tuple[list[dict[str, Any]], list[str] | None]:
    """The caller's enrollments in ``sid`` and the needed secrets they lack (warned of)."""
    existing = [_enrollment(e) for e in await _existing(client, sid)]
    if existing:
        warnings.append(
            "you already have an enrollment in this service; enrolling again with "
            "the same parameters is refused"
        )
    missing_secrets: list[str] | None = None
    if needed_secrets:
        have = {s.name async for s in client.secrets.iter()}
        missing_secrets = [name for name in needed_secrets if name not in have]
        if missing_secrets:
            warnings.append(
                "secrets to set first (usvc secrets set NAME, outside this "
                "conversation): " + ", ".join(missing_secrets)
            )
    return existing, missing_secrets


def _parameter_warnings(specs: list[Any], known: set[str], given: dict[str, Any]) -> list[str]:
    """What is wrong with the parameters ``given`` for a service declaring ``specs``."""
    warnings: list[str] = []
    missing = [p.name for p in specs if p.required and p.name not in given]
    if missing:
        warnings.append("required parameters missing: " + ", ".join(missing))
    unknown = sorted(set(given) - known)
    if unknown:
        warnings.append(
            "parameters the service does not declare: "
            + ", ".join(unknown)
            + (" (it declares: " + ", ".join(sorted(known)) + ")" if known else "")
        )
    return warnings


def register(server: MCPServer[Any], box: Toolbox) -> None:
    """Add the enrollment, request-log and usage tools to ``server``."""
    _register_enrollments(server, box)
    _register_logs_and_usage(server, box)


def _register_enrollments(server: MCPServer[Any], box: Toolbox) -> None:
    client, out = box.client, box.out

    @server.tool(annotations=_READ)
    @out.guard
    async def list_enrollments(
        status: Annotated[
            EnrollmentStatus | None, Field(description="Only enrollments in this status.")
        ] = None,
        service_id: Annotated[
            str | None, Field(description="Only enrollments in this service (UUID).")
        ] = None,
    ) -> CallToolResult:
        """List your enrollments: your subscriptions to services (BYOK, BYOE, plans).

        An active enrollment is called at its gateway_path e/<code>, e.g.
        dispatch(gateway_path="e/AB12/chat/completions").
        """
        rows = [
            _enrollment(e)
            async for e in client.enrollments.iter()
            if (status is None or e.status == status)
            and (service_id is None or str(e.service_id) == service_id)
        ]
        return out.result({"enrollments": rows, "count": len(rows)})

    @server.tool(annotations=ToolAnnotations(destructiveHint=False, openWorldHint=False))
    @out.guard
    async def enroll(
        service_id: ServiceId,
        parameters: Annotated[
            dict[str, Any] | None,
            Field(
                description="Enrollment parameters the service's access plan lists, e.g. "
                "{'base_url': 'https://my-endpoint/v1'}. Name secrets by their secret "
                "name; never put a secret value here."
            ),
        ] = None,
        confirm: Confirm = False,
        wait_seconds: Annotated[
            float,
            Field(
                ge=0,
                le=120,
                description="With confirm: wait this long for activation (0: return "
                "at once, status pending).",
            ),
        ] = 20,
    ) -> CallToolResult:
        """Enroll in (subscribe to) a service. Previews first: nothing happens without confirm=true.

        The preview lists the parameters and secrets the service needs and which
        are missing, the price per channel, and your existing enrollments in it.
        With confirm=true it enrolls and waits for activation; the answer has the
        enrollment's gateway_path (e/<code>) to dispatch to.
        """
        service = await client.services.get(service_id)
        sid = str(service.id)
        if confirm:
            created = await client.enrollments.create(service_id=sid, parameters=parameters)
            settled = created
            note = None
            if wait_seconds > 0:
                try:
                    settled = await created.wait(timeout=wait_seconds)
                except TimeoutError:
                    note = (
                        f"still {created.status} after {wait_seconds:g}s: check it later "
                        "with list_enrollments"
                    )
            if settled.status == "incomplete":
                note = "incomplete: a parameter or secret is missing or invalid; see message"
            return out.result(
                drop_none(
                    {
                        "confirmed": True,
                        "service": {"id": sid, "name": service.name},
                        "enrollment": _enrollment(settled),
                        "note": note,
                    }
                )
            )
        return out.result(await _enroll_preview(box, service, parameters or {}))

    @server.tool(annotations=ToolAnnotations(destructiveHint=True, openWorldHint=False))
    @out.guard
    async def cancel_enrollment(
        enrollment_id: Annotated[
            str, Field(description="The enrollment's UUID (list_enrollments).", min_length=1)
        ],
        confirm: Confirm = False,
    ) -> CallToolResult:
        """Cancel (unenroll) an enrollment. Previews first: nothing happens without confirm=true.

        Its gateway path e/<code> stops working; its parameters are kept, so
        enrolling again with the same parameters reactivates it.
        """
        enrollment = await client.enrollments.get(enrollment_id)
        if not confirm:
            return out.result(
                {
                    "confirmed": False,
                    "would": f"cancel enrollment {enrollment.id} (status {enrollment.status})"
                    + (f"; e/{enrollment.code} stops answering" if enrollment.code else ""),
                    "enrollment": _enrollment(enrollment),
                    "to_proceed": "call cancel_enrollment again with confirm=true",
                }
            )
        result = await client.enrollments.cancel(enrollment.id)
        return out.result({"confirmed": True, "result": jsonable(result)})


def _register_logs_and_usage(server: MCPServer[Any], box: Toolbox) -> None:
    client, out = box.client, box.out

    @server.tool(annotations=_READ)
    @out.guard
    async def list_request_logs(
        limit: Annotated[int, Field(ge=1, le=200, description="Rows, newest first.")] = 20,
        since_minutes: Annotated[
            int | None,
            Field(
                ge=1,
                le=60 * 24 * 31,
                description="Only calls of the last N minutes (default: the last 24 hours).",
            ),
        ] = None,
        service_id: Annotated[
            UUID | None, Field(description="Only calls to this service (UUID).")
        ] = None,
        path_contains: Annotated[
            str | None, Field(description="Only calls whose gateway path contains this.")
        ] = None,
        errors_only: Annotated[bool, Field(description="Only calls answered 4xx/5xx.")] = False,
    ) -> CallToolResult:
        """List your recent gateway calls from the request log (no bodies; newest first).

        Calls are logged when request logging is on for your account or the call
        used dispatch(log=true). Rows appear a moment after the call. Use
        get_request_log on a log_id for the stored request and response.
        """
        start = datetime.now(UTC) - timedelta(minutes=since_minutes) if since_minutes else None
        page = await client.request_logs.list(
            limit=limit,
            start_time=start,
            service_id=service_id,
            user_request_path=path_contains,
            status_min=400 if errors_only else None,
        )
        return out.result({"total_count": page.total_count, "items": jsonable(page.items)})

    @server.tool(annotations=_READ)
    @out.guard
    async def get_request_log(
        log_id: Annotated[str, Field(description="A log_id from list_request_logs.", min_length=1)],
    ) -> CallToolResult:
        """Show one logged gateway call: the request and response (secrets redacted), usage, cost.

        Each stored body is cut at 8,000 characters (marked in truncated_bodies).
        """
        detail = jsonable(await client.request_logs.get(log_id))
        cut: list[str] = []
        for part in ("user_request", "upstream_response"):
            section = detail.get(part)
            if isinstance(section, dict) and "body" in section:
                section["body"], was_cut = clip_json(section["body"], LOG_BODY_CHARS)
                if was_cut:
                    cut.append(f"{part}.body")
        if cut:
            detail["truncated_bodies"] = cut
        return out.result(detail)

    @server.tool(annotations=_READ)
    @out.guard
    async def get_usage(
        cycle_start: Annotated[
            str | None,
            Field(
                description="First day of a past billing cycle (a calendar month, UTC), "
                "e.g. '2026-04-01'. Omit for the current cycle.",
            ),
        ] = None,
    ) -> CallToolResult:
        """Show what your gateway calls used and cost in a billing cycle, per service.

        Requests, successes, errors, metered usage (tokens, bytes, seconds) and the
        charge per service and channel, the cycle's total to date and a projection
        to its end. Charges are exact decimal strings.
        """
        return out.result(jsonable(await client.usage.cycle(cycle_start)))
