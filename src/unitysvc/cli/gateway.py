"""``usvc resolve`` and ``usvc dispatch``: raw gateway paths."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from unitysvc.cli import _dispatch, _input
from unitysvc.cli._context import client
from unitysvc.cli._output import (
    JsonFlag,
    cell,
    emit,
    examples,
    info,
    print_table,
    stdout_console,
)

if TYPE_CHECKING:
    from unitysvc.models import ResolveResponse

RESOLVE_EPILOG = examples(
    "usvc resolve g/llm/chat/completions --key model=demo-small",
    "usvc resolve g/llm --strategy by_price --json",
)

DISPATCH_EPILOG = examples(
    'usvc dispatch g/llm/chat/completions --data \'{"model": "demo-small", '
    '"messages": [{"role": "user", "content": "hi"}]}\'',
    "usvc dispatch g/llm/chat/completions --data-file body.json --cache 1h --log",
    "usvc dispatch p/<service-id> --data-file - --failover g/llm < body.json",
    "usvc dispatch g/llm/chat/completions --data-file stream.json --stream",
    "usvc dispatch g/llm/chat/completions --data-file body.json --json | jq .status",
    "usvc dispatch p/<service-id>/models -X GET -H 'Accept: application/json'",
)


def resolve(
    path: Annotated[str, typer.Argument(help="Gateway path, e.g. g/llm/chat/completions.")],
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            "-k",
            metavar="K=V",
            help="Routing-key entry (repeatable): k=v for text, k:=<json> for JSON values.",
        ),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy", help="Override the routing strategy: by_price, lowest_latency, ..."
        ),
    ] = None,
    gateway: Annotated[
        str, typer.Option("--gateway", help="Which gateway: api, s3 or smtp.")
    ] = "api",
    as_json: JsonFlag = False,
) -> None:
    """Show which services a gateway path would route to, without calling any.

    Lists the candidates, the routing strategy and, when the choice does not depend
    on the request body, the candidate the gateway would pick.
    """
    routing_key = _input.pairs(key, "--key")
    result = client().resolve(
        path=path, routing_key=routing_key, gateway=gateway, strategy=strategy
    )
    emit(result, as_json, _render_resolve)


def _render_resolve(result: ResolveResponse) -> None:
    selected = result.selected.service_id if result.selected else None
    print_table(
        ["Service", "Name", "Provider", "Weight", "Enrollment", "Selected"],
        [
            [
                candidate.service_id,
                candidate.service_name,
                candidate.provider_name,
                candidate.weight,
                candidate.enrollment_id,
                candidate.service_id == selected,
            ]
            for candidate in result.candidates
        ],
        empty="No candidates: nothing routes there for this customer.",
    )
    note = "" if selected else "; the choice depends on the request body"
    stdout_console().print(
        f"strategy: {describe_strategy(result.routing_strategy)}{note}", markup=False, style="dim"
    )


def describe_strategy(strategy: dict[str, Any] | None) -> str:
    """A routing strategy as a person reads it: ``weighted_random (content_dependent: yes)``."""
    if not strategy:
        return "-"
    rest = {k: v for k, v in strategy.items() if k != "name" and v is not None}
    name = strategy.get("name")
    if name is None:
        return cell(rest)
    return f"{name} ({cell(rest)})" if rest else str(name)


def dispatch(
    path: Annotated[
        str,
        typer.Argument(help="Gateway-relative path, e.g. g/llm/chat/completions or p/<id>."),
    ],
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
    """Send a request to a raw gateway path.

    The status goes to stderr and the body to stdout: pretty JSON on a terminal,
    raw bytes when piped. Exits 1 when the gateway answers 4xx/5xx.
    """
    request = _dispatch.build_request(body_data, body_file, method, header, timeout)
    wrappers = _dispatch.build_wrappers(cache, renew, log, complete, failover, tee)
    sdk = client()
    if wrappers:
        from unitysvc._gateway import PathTarget  # the SDK's HTTP stack: only when used

        target = wrappers.apply(PathTarget(sdk, path))
        info(f"→ {target.path}")
        _dispatch.run_wrapped(target, "", request, stream=stream, include=include, as_json=as_json)
        return
    _dispatch.run(
        request,
        stream=stream,
        include=include,
        as_json=as_json,
        dispatch=lambda **kw: sdk.dispatch(path, **kw),
        open_stream=lambda **kw: sdk.stream(path, **kw),
    )
