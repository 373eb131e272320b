"""``usvc enrollments``: your subscriptions to services, and waiting for activation."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from unitysvc.cli import _input
from unitysvc.cli._context import client
from unitysvc.cli._output import (
    JsonFlag,
    emit,
    examples,
    fail,
    print_record,
    print_table,
    stderr_console,
    success,
)

app = typer.Typer(
    help="Your enrollments: list, create, wait for activation, cancel.",
    no_args_is_help=True,
    epilog=examples(
        "usvc enrollments create <service-uuid> --wait", "usvc enrollments list --json"
    ),
)

EnrollmentId = Annotated[str, typer.Argument(help="Enrollment UUID.")]
Parameters = Annotated[
    list[str] | None,
    typer.Option(
        "--parameter",
        "-P",
        metavar="K=V",
        help="Enrollment parameter (repeatable): k=v for text, k:=<json> for JSON values.",
    ),
]
ParametersJson = Annotated[
    str | None,
    typer.Option(
        "--parameters",
        metavar="JSON|@FILE|-",
        help="All parameters as a JSON object (--parameter entries override its keys).",
    ),
]
Wait = Annotated[
    bool, typer.Option("--wait", "-w", help="Wait until the enrollment is active (or fails).")
]
WaitTimeout = Annotated[
    float, typer.Option("--timeout", help="With --wait: give up after this many seconds.")
]

_FIELDS = [
    "id",
    "service_id",
    "status",
    "code",
    "proxy_endpoint",
    "parameters",
    "created_at",
    "updated_at",
    "service",
    "task_id",
    "message",
]


def collect_parameters(raw: str | None, items: list[str] | None) -> dict[str, Any] | None:
    """``--parameters`` (a JSON object) overlaid with ``--parameter k=v`` items."""
    merged: dict[str, Any] = dict(_input.json_object(raw, "--parameters") or {})
    merged.update(_input.pairs(items, "--parameter") or {})
    return merged or None


def _render(enrollment: Any) -> None:
    print_record(enrollment, fields=_FIELDS)


def settle(enrollment: Any, *, wait: bool, timeout: float, as_json: bool) -> None:
    """Print a new enrollment, after waiting for it to settle when asked."""
    if wait:
        enrollment = wait_for(enrollment.id, timeout)
    # After --wait, wait_for() has already reported the outcome.
    done = None if wait else f"Enrollment {enrollment.id} is {enrollment.status}"
    emit(enrollment, as_json, _render, done=done)
    if wait and enrollment.status != "active":
        fail(f"enrollment {enrollment.id} ended {enrollment.status}, not active")


def wait_for(enrollment_id: Any, timeout: float) -> Any:
    """Poll an enrollment with a spinner until it settles; report the outcome."""
    with stderr_console().status(f"Waiting for enrollment {enrollment_id} to activate…"):
        try:
            enrollment = client().enrollments.wait(enrollment_id, timeout=timeout)
        except TimeoutError:
            fail(
                f"enrollment {enrollment_id} is still pending after {timeout:g}s; "
                f"check again with: usvc enrollments wait {enrollment_id}"
            )
    if enrollment.status == "active":
        suffix = f" at {enrollment.path}" if enrollment.path else ""
        success(f"Enrollment {enrollment.id} is active{suffix}")
    return enrollment


@app.command("list", epilog=examples("usvc enrollments list", "usvc enrollments list --json"))
def list_enrollments(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows per page.")] = 100,
    skip: Annotated[int, typer.Option("--skip", min=0, help="Rows to skip.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """List your enrollments."""
    page = client().enrollments.list(skip=skip, limit=limit)

    def render(rows: Any) -> None:
        print_table(
            ["ID", "Service", "Status", "Code", "Created"],
            [
                [
                    e.id,
                    (e.service or {}).get("name") or e.service_id,
                    e.status,
                    e.code,
                    e.created_at,
                ]
                for e in rows
            ],
            empty="No enrollments.",
        )

    emit(page.data, as_json, render)


@app.command("show", epilog=examples("usvc enrollments show <enrollment-uuid> --json"))
def show_enrollment(enrollment_id: EnrollmentId, as_json: JsonFlag = False) -> None:
    """Show one enrollment."""
    emit(client().enrollments.get(enrollment_id), as_json, _render)


@app.command(
    "create",
    epilog=examples(
        "usvc enrollments create <service-uuid> --wait",
        "usvc enrollments create <service-uuid> -P base_url=http://127.0.0.1:9000 --json",
    ),
)
def create_enrollment(
    service_id: Annotated[str, typer.Argument(help="Service UUID.")],
    parameter: Parameters = None,
    parameters: ParametersJson = None,
    wait: Wait = False,
    wait_timeout: WaitTimeout = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Enroll in a service; activation happens in the background (see --wait)."""
    enrollment = client().enrollments.create(
        service_id=service_id, parameters=collect_parameters(parameters, parameter)
    )
    settle(enrollment, wait=wait, timeout=wait_timeout, as_json=as_json)


@app.command("wait", epilog=examples("usvc enrollments wait <enrollment-uuid> --timeout 30"))
def wait_enrollment(
    enrollment_id: EnrollmentId,
    wait_timeout: WaitTimeout = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Wait until an enrollment is active; exit 1 if it settles otherwise or times out."""
    settle(
        client().enrollments.get(enrollment_id), wait=True, timeout=wait_timeout, as_json=as_json
    )


@app.command("cancel", epilog=examples("usvc enrollments cancel <enrollment-uuid> --yes"))
def cancel_enrollment(
    enrollment_id: EnrollmentId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Cancel an enrollment (its parameters are kept; enroll again to reactivate)."""
    _input.confirm(f"Cancel enrollment {enrollment_id}?", yes)
    result = client().enrollments.cancel(enrollment_id)
    emit(result, as_json, done=f"Enrollment {result.enrollment_id} is {result.status}")
