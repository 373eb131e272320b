"""What every dispatching command shares: request options, wrappers, response output.

``usvc dispatch``, ``usvc services dispatch|stream`` and ``usvc groups dispatch``
take the same request options and gateway wrappers and print the same way: the
status on stderr, the body on stdout (pretty JSON on a terminal, raw bytes
otherwise), streamed tokens as they arrive.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from unitysvc.cli import _input
from unitysvc.cli._context import client
from unitysvc.cli._output import (
    status_phrase,
    stderr_console,
    stdout_console,
    stdout_is_terminal,
    write_body,
)

if TYPE_CHECKING:
    import httpx

    from unitysvc._streaming import StreamEvent, StreamingResponse

_REQUEST = "Request"
_WRAPPERS = "Gateway wrappers"

BodyData = Annotated[
    str | None,
    typer.Option(
        "--data",
        "-d",
        metavar="BODY|@FILE|-",
        help="Request body, sent as is: inline, @file, or - for stdin. A JSON body is "
        "sent as application/json.",
        rich_help_panel=_REQUEST,
    ),
]
BodyFile = Annotated[
    str | None,
    typer.Option(
        "--data-file",
        metavar="FILE|-",
        help="Request body from a file, or - for stdin (like --data @FILE).",
        rich_help_panel=_REQUEST,
    ),
]
ResponseJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print the response as one JSON object {status, headers, body} (streams: "
        "one JSON object per event).",
    ),
]
Method = Annotated[
    str | None,
    typer.Option(
        "--method",
        "-X",
        help="HTTP method. Default: POST when a body is given, else GET.",
        rich_help_panel=_REQUEST,
    ),
]
Headers = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        "-H",
        metavar="'NAME: VALUE'",
        help="Extra request header (repeatable).",
        rich_help_panel=_REQUEST,
    ),
]
RequestTimeout = Annotated[
    float | None,
    typer.Option("--timeout", help="Request timeout in seconds.", rich_help_panel=_REQUEST),
]
Stream = Annotated[
    bool,
    typer.Option(
        "--stream",
        help="Stream the response, printing tokens (or events) as they arrive.",
        rich_help_panel=_REQUEST,
    ),
]
Include = Annotated[
    bool,
    typer.Option(
        "--include",
        "-i",
        help="Also print the response headers (on stderr).",
        rich_help_panel=_REQUEST,
    ),
]
Cache = Annotated[
    str | None,
    typer.Option(
        "--cache",
        metavar="TTL",
        help="Serve repeats from the gateway cache (m/) for TTL: 60s, 5m, 1h, 1d (max 7d).",
        rich_help_panel=_WRAPPERS,
    ),
]
Renew = Annotated[
    bool,
    typer.Option(
        "--renew",
        help="With --cache: bypass the cached entry and overwrite it.",
        rich_help_panel=_WRAPPERS,
    ),
]
Log = Annotated[
    bool,
    typer.Option(
        "--log", help="Record this call in the request log (l/).", rich_help_panel=_WRAPPERS
    ),
]
Complete = Annotated[
    bool,
    typer.Option(
        "--complete",
        help="With --log: keep full bodies instead of 8 KB previews.",
        rich_help_panel=_WRAPPERS,
    ),
]
Failover = Annotated[
    list[str] | None,
    typer.Option(
        "--failover",
        metavar="PATH",
        help="Gateway path to retry on 5xx/429/timeout (f/; repeatable, in order).",
        rich_help_panel=_WRAPPERS,
    ),
]
Tee = Annotated[
    list[str] | None,
    typer.Option(
        "--tee",
        metavar="PATH",
        help="Gateway path that also receives a fire-and-forget copy (t/; repeatable).",
        rich_help_panel=_WRAPPERS,
    ),
]


@dataclass(frozen=True, slots=True)
class Request:
    """A request as the SDK's ``dispatch``/``stream`` take it."""

    method: str
    data: bytes | None = None
    headers: dict[str, str] | None = None
    timeout: float | None = None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``dispatch(...)`` / ``stream(...)``."""
        return {
            "method": self.method,
            "data": self.data,
            "headers": self.headers,
            "timeout": self.timeout,
        }


def build_request(
    body_data: str | None,
    body_file: str | None,
    method: str | None,
    header: list[str] | None,
    timeout: float | None,
) -> Request:
    """Validate the request options (usage errors before any request is sent).

    The body is sent byte for byte; when it parses as JSON and no ``Content-Type``
    was given, it is labelled ``application/json`` (as ``curl --json`` does).
    """
    if body_data is not None and body_file is not None:
        raise typer.BadParameter("give either --data or --data-file, not both")
    if body_file is not None:
        data = _input.raw_data(body_file if body_file == "-" else "@" + body_file, "--data-file")
    else:
        data = _input.raw_data(body_data)
    chosen = (method or ("POST" if data is not None else "GET")).upper()
    extra = _input.headers(header) or {}
    if data is not None and not any(k.lower() == "content-type" for k in extra):
        try:
            json.loads(data)
        except ValueError:
            pass
        else:
            extra["Content-Type"] = "application/json"
    return Request(method=chosen, data=data, headers=extra or None, timeout=timeout)


@dataclass(frozen=True, slots=True)
class Wrappers:
    """Gateway wrappers selected on the command line."""

    cache: str | None = None
    renew: bool = False
    log: bool = False
    complete: bool = False
    failover: list[str] = field(default_factory=list)
    tee: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.cache or self.renew or self.log or self.complete or self.failover or self.tee
        )

    def apply(self, target: Any) -> Any:
        """Wrap ``target`` (anything with ``.path``) with the SDK's fluent wrappers."""
        wrapped = target
        if self.log or self.complete:
            with _blame("--log"):
                wrapped = wrapped.logged(complete=self.complete)
        if self.cache or self.renew:
            with _blame("--cache"):
                wrapped = wrapped.cached(ttl=self.cache, renew=self.renew)
        for secondary in self.failover:
            with _blame("--failover"):
                wrapped = wrapped.with_failover(secondary)
        for destination in self.tee:
            with _blame("--tee"):
                wrapped = wrapped.with_tee(destination)
        return wrapped


@contextmanager
def _blame(flag: str) -> Iterator[None]:
    """Report the SDK's ``ValueError`` as a usage error of ``flag``."""
    try:
        yield
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None


def build_wrappers(
    cache: str | None,
    renew: bool,
    log: bool,
    complete: bool,
    failover: list[str] | None,
    tee: list[str] | None,
) -> Wrappers:
    """Collect and check the wrapper options before any request is sent.

    ``--renew`` alone uses the gateway's default TTL.
    """
    wrappers = Wrappers(cache, renew, log, complete, list(failover or []), list(tee or []))
    if wrappers:
        from unitysvc._gateway import PathTarget  # the SDK's HTTP stack: only when used

        wrappers.apply(PathTarget(client(), "p/check"))
    return wrappers


def run(
    request: Request,
    *,
    stream: bool,
    include: bool,
    as_json: bool = False,
    dispatch: Callable[..., httpx.Response],
    open_stream: Callable[..., AbstractContextManager[StreamingResponse]],
) -> None:
    """Send ``request`` with ``dispatch`` (or ``open_stream``) and print the outcome.

    Exits 1 when the gateway answers with a 4xx/5xx status (its body is still
    printed), like ``gh api``.
    """
    if stream:
        with open_stream(**request.kwargs()) as streamed:
            _status_line(streamed.status_code, streamed.headers, None, include)
            if streamed.status_code >= 400:
                body = b"".join(streamed.iter_bytes())
                if as_json:
                    _print_json_response(streamed.status_code, streamed.headers, body)
                else:
                    write_body(body)
                raise typer.Exit(1)
            if as_json:
                for event in streamed.iter_events():
                    _write_text(json.dumps(_event_json(event), ensure_ascii=False) + "\n")
            else:
                print_events(streamed.iter_events())
        return
    response = dispatch(**request.kwargs())
    _status_line(response.status_code, response.headers, response.elapsed.total_seconds(), include)
    if as_json:
        _print_json_response(response.status_code, response.headers, response.content)
    else:
        _print_body(response)
    if response.status_code >= 400:
        raise typer.Exit(1)


def _print_json_response(status: int, headers: httpx.Headers, content: bytes) -> None:
    """``--json``: the response as one JSON object (a JSON body parsed, else text)."""
    body: Any = None
    if content:
        try:
            body = json.loads(content)
        except ValueError:
            body = content.decode("utf-8", "replace")
    document = {"status": status, "headers": dict(headers.items()), "body": body}
    _write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def _event_json(event: StreamEvent) -> dict[str, Any]:
    data: Any = event.parsed
    if data is None and event.kind != "done":
        data = event.text if event.text is not None else event.raw.decode("utf-8", "replace")
    return {"kind": event.kind, "data": data}


def run_wrapped(
    target: Any, path: str, request: Request, *, stream: bool, include: bool, as_json: bool = False
) -> None:
    """:func:`run` through a wrapped target (``Wrappers.apply``), at sub-path ``path``."""
    run(
        request,
        stream=stream,
        include=include,
        as_json=as_json,
        dispatch=lambda **kw: target.dispatch(path=path, **kw),
        open_stream=lambda **kw: target.stream(path=path, **kw),
    )


def _status_line(status: int, headers: httpx.Headers, elapsed: float | None, include: bool) -> None:
    reason = status_phrase(status)
    notes = []
    if elapsed is not None:
        notes.append(f"{elapsed * 1000:.0f} ms")
    cache = headers.get("x-unitysvc-cache")
    if cache:
        notes.append(f"cache {cache}")
    style = "green" if status < 300 else "yellow" if status < 400 else "red"
    console = stderr_console()
    suffix = f" ({', '.join(notes)})" if notes else ""
    console.print(f"HTTP {status} {reason}{suffix}".rstrip(), style=style, markup=False)
    if include:
        for name, value in headers.items():
            console.print(f"{name}: {value}", style="dim", markup=False)


def _print_body(response: httpx.Response) -> None:
    content = response.content
    if not content:
        return
    if stdout_is_terminal() and "json" in response.headers.get("content-type", ""):
        try:
            parsed = json.loads(content)
        except ValueError:
            pass
        else:
            stdout_console().print_json(data=parsed)
            return
    write_body(content)
    if stdout_is_terminal() and not content.endswith(b"\n"):
        write_body(b"\n")


def token_of(event: StreamEvent) -> str | None:
    """The text token an OpenAI-style chunk carries (None when it is not one)."""
    parsed = event.parsed
    if not isinstance(parsed, dict):
        return None
    choices = parsed.get("choices")
    if not isinstance(choices, list):
        return None
    if not choices:
        return ""
    choice = choices[0] if isinstance(choices[0], dict) else {}
    delta = choice.get("delta")
    if isinstance(delta, dict):
        content = delta.get("content")
        return content if isinstance(content, str) else ""
    text = choice.get("text")
    return text if isinstance(text, str) else ""


def print_events(events: Iterable[StreamEvent]) -> None:
    """Print a stream as it arrives: tokens of OpenAI-style chunks, else each event's data."""
    ends_with_newline = True
    for event in events:
        if event.kind == "done":
            break
        if event.kind == "bytes":
            write_body(event.raw)
            ends_with_newline = event.raw.endswith(b"\n")
            continue
        token = token_of(event) if event.kind in ("sse", "ndjson") else None
        if token is not None:
            if token:
                _write_text(token)
                ends_with_newline = token.endswith("\n")
            continue
        _write_text(_event_text(event) + "\n")
        ends_with_newline = True
    if not ends_with_newline:
        _write_text("\n")


def _event_text(event: StreamEvent) -> str:
    if event.kind == "line" and event.text is not None:
        return event.text
    if isinstance(event.parsed, str):
        return event.parsed
    if event.parsed is not None:
        return json.dumps(event.parsed, ensure_ascii=False)
    return event.raw.decode("utf-8", "replace").rstrip("\r\n")


def _write_text(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
