"""``usvc services``: one service: details, interfaces, dispatch, schedule, enroll."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import typer

from unitysvc.cli import _dispatch, _input
from unitysvc.cli._context import client
from unitysvc.cli._output import (
    JsonFlag,
    emit,
    examples,
    info,
    print_record,
    print_table,
)
from unitysvc.exceptions import UnitysvcSDKError

if TYPE_CHECKING:
    import httpx

from unitysvc.cli.enrollments import (
    Parameters,
    ParametersJson,
    Wait,
    WaitTimeout,
    collect_parameters,
    settle,
)
from unitysvc.cli.recurrent_requests import (
    Body,
    Cron,
    Interval,
    Recurrence,
    Timezone,
    render_recurrent,
)

app = typer.Typer(
    help="One service: details, interfaces, dispatch, stream, schedule, enroll.\n\n"
    "Find services with `usvc groups services <group>`.",
    no_args_is_help=True,
    epilog=examples(
        "usvc services show <service-uuid>",
        "usvc services dispatch <service-uuid> --path chat/completions --data-file body.json",
    ),
)

ServiceId = Annotated[str, typer.Argument(help="Service UUID (a unique prefix is enough).")]
Interface = Annotated[
    str | None,
    typer.Option("--interface", help="Interface name, when several could serve the call."),
]
Enrollment = Annotated[
    str | None,
    typer.Option("--enrollment", help="Use the interface bound to this enrollment UUID."),
]
SubPath = Annotated[
    str,
    typer.Option("--path", "-p", help="Sub-path after the interface URL, e.g. chat/completions."),
]

_SERVICE_FIELDS = [
    "id",
    "name",
    "display_name",
    "description",
    "service_type",
    "gateway_type",
    "provider_name",
    "seller_name",
    "listing_type",
    "enrollment_channel",
    "capabilities",
    "tags",
    "list_price",
]


@app.command(
    "show", epilog=examples("usvc services show <service-uuid>", "usvc services show 3f2a --json")
)
def show_service(service_id: ServiceId, as_json: JsonFlag = False) -> None:
    """Show a service's details."""
    emit(
        client().services.get(service_id),
        as_json,
        lambda s: print_record(s, fields=_SERVICE_FIELDS),
    )


@app.command("interfaces", epilog=examples("usvc services interfaces <service-uuid> --json"))
def list_interfaces(service_id: ServiceId, as_json: JsonFlag = False) -> None:
    """List the interfaces you can dispatch this service through.

    Shared interfaces, plus the ones bound to your enrollments (BYOK/BYOE).
    """
    interfaces = client().services.interfaces(service_id)

    def render(rows: Any) -> None:
        print_table(
            ["Name", "Access", "Enrollment", "Base URL"],
            [[i.name, i.access_method, i.enrollment_id, i.base_url] for i in rows],
            empty="No interfaces: this service may need an enrollment (usvc services enroll).",
        )

    emit(interfaces, as_json, render)


def _dispatch_service(
    service_id: str,
    interface: str | None,
    enrollment: str | None,
    path: str,
    request: _dispatch.Request,
    wrappers: _dispatch.Wrappers,
    *,
    stream: bool,
    include: bool,
    as_json: bool,
) -> None:
    services = client().services
    if wrappers:
        if interface or enrollment:
            raise typer.BadParameter(
                "gateway wrappers address the service as p/<id>; drop --interface/--enrollment"
            )
        target = wrappers.apply(services.get(service_id))
        _dispatch.run_wrapped(
            target, path, request, stream=stream, include=include, as_json=as_json
        )
        return
    statuses: list[int] = []

    def dispatch(**kw: Any) -> httpx.Response:
        response = services.dispatch(
            service_id, interface=interface, enrollment=enrollment, path=path, **kw
        )
        statuses.append(response.status_code)
        return response

    try:
        _dispatch.run(
            request,
            stream=stream,
            include=include,
            as_json=as_json,
            dispatch=dispatch,
            open_stream=lambda **kw: services.stream(
                service_id, interface=interface, enrollment=enrollment, path=path, **kw
            ),
        )
    except typer.Exit:
        if not path and statuses == [404]:
            _hint_paths(service_id, interface)
        raise


def _hint_paths(service_id: str, interface: str | None) -> None:
    """After a 404 at an interface's root: say which paths the service documents."""
    services = client().services
    try:
        docs = services.documents(service_id, include_content=True, interface=interface)
        bases = [str(i.base_url).rstrip("/") for i in services.interfaces(service_id) if i.base_url]
    except UnitysvcSDKError:
        return  # the hint is a courtesy: the 404 above already said what happened
    found: dict[str, None] = {}
    for document in docs.documents or []:
        for base in bases:
            for match in re.finditer(
                re.escape(base) + r"/([A-Za-z0-9_\-./]+)", document.content or ""
            ):
                found[match.group(1).rstrip("./")] = None
    if found:
        offered = ", ".join(found)
        example = next(iter(found))
        info(
            f"hint: no --path was given and the interface root answered 404; this service "
            f"offers {offered} (from its documents): add --path {example}"
        )
    else:
        info(
            "hint: no --path was given and the interface root answered 404; this service "
            "documents no paths: add --path with one of its API's paths "
            f"(usvc services show {service_id} names the interfaces)"
        )


@app.command(
    "dispatch",
    epilog=examples(
        "usvc services dispatch <service-uuid> --path chat/completions --data-file body.json",
        "usvc services dispatch <service-uuid> --data '{\"x\": 1}' --cache 5m",
        "usvc services dispatch <service-uuid> --enrollment <enrollment-uuid> -X GET --path models",
    ),
)
def dispatch_service(
    service_id: ServiceId,
    path: SubPath = "",
    interface: Interface = None,
    enrollment: Enrollment = None,
    body_data: _dispatch.BodyData = None,
    body_file: _dispatch.BodyFile = None,
    method: _dispatch.Method = None,
    header: _dispatch.Headers = None,
    timeout: _dispatch.RequestTimeout = None,
    stream: _dispatch.Stream = False,
    include: _dispatch.Include = False,
    as_json: _dispatch.ResponseJson = False,
    cache: _dispatch.Cache = None,
    renew: _dispatch.Renew = False,
    log: _dispatch.Log = False,
    complete: _dispatch.Complete = False,
    failover: _dispatch.Failover = None,
    tee: _dispatch.Tee = None,
) -> None:
    """Send a request to a service through its gateway interface.

    The status goes to stderr and the body to stdout. Exits 1 on a 4xx/5xx answer.
    """
    _dispatch_service(
        service_id,
        interface,
        enrollment,
        path,
        _dispatch.build_request(body_data, body_file, method, header, timeout),
        _dispatch.build_wrappers(cache, renew, log, complete, failover, tee),
        stream=stream,
        include=include,
        as_json=as_json,
    )


@app.command(
    "stream",
    epilog=examples(
        "usvc services stream <service-uuid> --path chat/completions "
        '--data \'{"model": "demo-small", "stream": true, '
        '"messages": [{"role": "user", "content": "hi"}]}\'',
    ),
)
def stream_service(
    service_id: ServiceId,
    path: SubPath = "",
    interface: Interface = None,
    enrollment: Enrollment = None,
    body_data: _dispatch.BodyData = None,
    body_file: _dispatch.BodyFile = None,
    method: _dispatch.Method = None,
    header: _dispatch.Headers = None,
    timeout: _dispatch.RequestTimeout = None,
    include: _dispatch.Include = False,
    as_json: _dispatch.ResponseJson = False,
    cache: _dispatch.Cache = None,
    renew: _dispatch.Renew = False,
    log: _dispatch.Log = False,
    complete: _dispatch.Complete = False,
    failover: _dispatch.Failover = None,
    tee: _dispatch.Tee = None,
) -> None:
    """Stream a service's response, printing tokens as they arrive.

    OpenAI-style chunks print their delta content; other streams print each
    event's data on its own line. Ask the upstream to stream ("stream": true).
    """
    _dispatch_service(
        service_id,
        interface,
        enrollment,
        path,
        _dispatch.build_request(body_data, body_file, method, header, timeout),
        _dispatch.build_wrappers(cache, renew, log, complete, failover, tee),
        stream=True,
        include=include,
        as_json=as_json,
    )


@app.command(
    "schedule",
    epilog=examples(
        "usvc services schedule <service-uuid> --interval 300 --body '{\"ping\": true}'",
        "usvc services schedule <service-uuid> --cron '*/5 * * * *' --timezone Europe/Paris",
    ),
)
def schedule_service(
    service_id: ServiceId,
    interval: Interval = None,
    cron: Cron = None,
    timezone: Timezone = "UTC",
    recurrence: Recurrence = None,
    path: SubPath = "",
    interface: Interface = None,
    enrollment: Enrollment = None,
    method: Annotated[str, typer.Option("--method", "-X", help="HTTP method.")] = "POST",
    body_json: Body = None,
    header: _dispatch.Headers = None,
    name: Annotated[str | None, typer.Option("--name", help="A label for the schedule.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Call a service on a schedule (give one of --interval, --cron, --recurrence)."""
    schedule = _input.recurrence(recurrence, interval, cron, timezone)
    if schedule is None:
        raise typer.BadParameter("give one of --interval SECONDS, --cron EXPR or --recurrence JSON")
    created = client().services.schedule(
        service_id,
        recurrence=schedule,
        interface=interface,
        enrollment=enrollment,
        path=path,
        method=method,
        json=_input.json_object(body_json, "--body"),
        headers=_input.headers(header),
        name=name,
    )
    emit(
        created,
        as_json,
        render_recurrent,
        done=f"Scheduled recurrent request {created.id} ({created.status})",
    )


@app.command(
    "enroll",
    epilog=examples(
        "usvc services enroll <service-uuid> --wait",
        "usvc services enroll <service-uuid> -P api_key='${ customer_secrets.MY_KEY }' --wait",
        "usvc services enroll <service-uuid> --parameters @params.json --json",
    ),
)
def enroll_service(
    service_id: ServiceId,
    parameter: Parameters = None,
    parameters: ParametersJson = None,
    wait: Wait = False,
    wait_timeout: WaitTimeout = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Enroll in a service (BYOK/BYOE values go in --parameter)."""
    params = collect_parameters(parameters, parameter)
    enrollment = client().services.get(service_id).enroll(parameters=params)
    settle(enrollment, wait=wait, timeout=wait_timeout, as_json=as_json)
