"""``usvc demo``: the whole platform on this machine, walked through with the public SDK.

Starts the embedded platform (SQLite in a temporary directory, the demo catalog and
its mock upstreams, everything on 127.0.0.1), creates a customer and then does the
main job step by step with :class:`unitysvc.Client`, printing each step as it happens.
Everything is stopped and removed on exit; ``--keep`` leaves the platform running
until Ctrl-C and prints the ``export`` lines that point your own code at it.

Needs the ``server`` extra (``pip install "unitysvc[server]"``).
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from unitysvc.cli._dispatch import token_of
from unitysvc.cli._output import examples, fail, stdout_console

if TYPE_CHECKING:
    from rich.console import Console

    import unitysvc
    from unitysvc.services import Service
    from unitysvc_server.local_platform import LocalPlatform

__all__ = ["app", "demo"]

#: The key the demo ``demo-byok`` upstream accepts (see the demo catalog).
DEMO_BYOK_KEY = "sk-demo-byok-0123456789"
#: The customer the demo creates.
CUSTOMER = "demo"
#: Shortest schedule the platform accepts, so the demo sees two runs quickly.
SCHEDULE_SECONDS = 1
#: Upstream latency the demo asks of the mock model, so a cache hit is visibly faster.
SLOW_UPSTREAM_MS = 300
STEPS = 14
#: Upstream calls the walk-through makes that are metered (the cache hit is not): the
#: dispatch, the stream, the cache miss, demo-down alone, the failover's two calls and
#: the two scheduled runs.
METERED_CALLS = 8

app = typer.Typer(add_completion=False)


def _chat(model: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def _reply(response: Any) -> str:
    """The assistant text of an OpenAI-style chat completion."""
    data = response.json()
    return str(data["choices"][0]["message"]["content"])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


class _Printer:
    """Numbered steps, SDK calls and results on one Rich console."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.number = 0

    def step(self, title: str) -> None:
        self.number += 1
        self.console.print()
        self.console.print(f"[bold cyan]{self.number:>2}/{STEPS}[/bold cyan] [bold]{title}[/bold]")

    def code(self, text: str) -> None:
        """The SDK call about to run, as you would write it."""
        self.console.print(f"      [dim]>>> {escape(text)}[/dim]")

    def ok(self, text: str) -> None:
        self.console.print(f"      [green]✓[/green] {text}")

    def note(self, text: str) -> None:
        self.console.print(f"      {text}")

    def table(self, columns: list[str], rows: list[list[str]]) -> None:
        from rich import box
        from rich.padding import Padding
        from rich.table import Table

        table = Table(*columns, box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
        for row in rows:
            table.add_row(*(escape(value) for value in row))
        self.console.print(Padding(table, (0, 0, 0, 6), expand=False))


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM both raise KeyboardInterrupt, so either stops the
    platform and cleans up.

    SIGINT is set explicitly too: a process started in the background by a
    non-interactive shell inherits SIGINT *ignored*, and Python then installs no
    KeyboardInterrupt handler — ``kill -INT`` would do nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, interrupt),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _platform(data_dir: Path, console: Console) -> Iterator[LocalPlatform]:
    """The embedded platform on loopback, on SQLite in ``data_dir``, stopped on exit.

    A spinner says what is happening while the platform is imported (about a
    second: FastAPI, SQLAlchemy, ...) and started, so the demo is never silent.
    """
    with ExitStack() as stack:
        with console.status("[dim]Importing the platform (FastAPI, SQLAlchemy, …)[/dim]") as busy:
            from unitysvc_server.local_platform import LocalPlatform

            busy.update("[dim]Starting: SQLite schema, demo catalog and mock upstreams…[/dim]")
            # An explicit SQLite URL: the demo never touches a database named by the
            # environment.
            database_url = f"sqlite+aiosqlite:///{data_dir / 'unitysvc.db'}"
            platform = stack.enter_context(
                LocalPlatform(demo=True, data_dir=data_dir, database_url=database_url)
            )
        yield platform


def _find(client: unitysvc.Client, name: str) -> Service:
    """A catalog service by its name (through the public catalog listing)."""
    for service in client.groups.iter_services("all_services", search=name):
        if service.name == name:
            return service
    raise LookupError(f"the demo catalog has no service named {name!r}")


def _walk(out: _Printer, client: unitysvc.Client) -> None:
    """Steps 3 onwards: the main job, with the public SDK only."""
    # -- browse ---------------------------------------------------------------------
    out.step("Browse the catalog: groups and their services")
    out.code("client.groups.list()")
    groups = client.groups.list()
    out.table(
        ["Group", "Display name", "Type", "Members"],
        [
            [g.name, str(g.record.display_name), str(g.record.group_type), str(g.member_count)]
            for g in groups
        ],
    )
    out.code('client.groups.iter_services("all_services")')
    services = list(client.groups.iter_services("all_services"))
    out.table(
        ["Service", "Type", "ID"],
        [[s.name, str(s.record.service_type), str(s.id)] for s in services],
    )
    out.ok(f"{len(groups)} groups, {len(services)} services")

    # -- preference -----------------------------------------------------------------
    out.step("Set a preference: log every gateway call below, with complete bodies")
    out.code('client.preferences.set_request_log_mode("complete")')
    pref = client.preferences.set_request_log_mode("complete")
    out.ok(f"preference {pref.name} = {pref.effective} (source: {pref.source})")

    # -- secret ---------------------------------------------------------------------
    out.step("Store a secret (the demo-byok upstream's API key)")
    out.code('client.secrets.set("DEMO_API_KEY", "sk-demo-…")')
    secret = client.secrets.set("DEMO_API_KEY", DEMO_BYOK_KEY)
    out.ok(
        f"secret {secret.name} stored encrypted (sensitive: {secret.sensitive}); "
        "its value is never returned"
    )

    # -- enrollment -----------------------------------------------------------------
    out.step("Enroll in demo-byok and wait for activation")
    byok = _find(client, "demo-byok")
    out.code("enrollment = byok.enroll()")
    enrollment = byok.enroll()
    out.note(f"enrollment {enrollment.id}: [yellow]{enrollment.status}[/yellow]")
    out.code("active = enrollment.wait()")
    started = time.perf_counter()
    active = enrollment.wait(timeout=20)
    if active.status != "active":
        raise RuntimeError(f"enrollment settled as {active.status!r}, not 'active'")
    out.ok(
        f"enrollment [green]{active.status}[/green] after "
        f"{_ms(time.perf_counter() - started)}, at gateway path {active.path}"
    )

    # -- dispatch -------------------------------------------------------------------
    out.step("Dispatch a chat completion through your enrollment")
    body = _chat("demo-byok", "Hello from the unitysvc demo")
    out.code('byok.dispatch(path="chat/completions", json={"model": "demo-byok", …})')
    started = time.perf_counter()
    response = byok.dispatch(path="chat/completions", json=body)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    out.ok(f"{response.status_code} in {_ms(elapsed)}: {escape(repr(_reply(response)))}")

    # -- stream ---------------------------------------------------------------------
    out.step("Stream a reply, token by token")
    text = "streaming arrives one token at a time"
    out.code('with byok.stream(path="chat/completions", json={…, "stream": True}) as stream:')
    tokens = 0
    with byok.stream(
        path="chat/completions", json={**_chat("demo-byok", text), "stream": True}
    ) as stream:
        out.console.print("      [magenta]»[/magenta] ", end="")
        for event in stream.iter_events():
            if event.kind == "done":
                break
            delta = token_of(event)
            if delta:
                tokens += 1
                out.console.print(delta, end="", markup=False, highlight=False)
                out.console.file.flush()
        out.console.print()
    out.ok(f"{tokens} tokens streamed (server-sent events)")

    # -- resolve --------------------------------------------------------------------
    out.step("Resolve a route: which services could serve g/llm?")
    out.code('client.resolve(path="g/llm/chat/completions")')
    resolved = client.resolve(path="g/llm/chat/completions")
    strategy = (resolved.routing_strategy or {}).get("name", "weighted_random")
    out.table(
        ["Candidate", "Provider", "Weight"],
        [[str(c.service_name), str(c.provider_name), str(c.weight)] for c in resolved.candidates],
    )
    out.note(f"strategy {strategy}; a request's model picks among them")
    out.code('client.resolve(path="g/llm/chat/completions", routing_key={"model": "demo-medium"})')
    keyed = client.resolve(path="g/llm/chat/completions", routing_key={"model": "demo-medium"})
    names = ", ".join(str(c.service_name) for c in keyed.candidates)
    out.ok(f"model demo-medium resolves to: {names}")

    # -- cache ----------------------------------------------------------------------
    out.step("Cache a slow call, then repeat it")
    llm = client.groups.get("llm")
    slow = _chat("demo-small", "What is cached?", pause_ms=SLOW_UPSTREAM_MS)
    out.code('llm.cached(ttl="5m").dispatch(path="chat/completions", json=…)   # twice')
    cached = llm.cached(ttl="5m")
    timings: list[tuple[str, float]] = []
    for _ in range(2):
        started = time.perf_counter()
        response = cached.dispatch(path="chat/completions", json=slow)
        timings.append(
            (response.headers.get("x-unitysvc-cache", "-"), time.perf_counter() - started)
        )
        response.raise_for_status()
    (first, first_s), (second, second_s) = timings
    out.ok(f"first call:  x-unitysvc-cache: {first:<4} {_ms(first_s):>7}  (upstream answered)")
    out.ok(f"second call: x-unitysvc-cache: {second:<4} {_ms(second_s):>7}  (from the cache)")

    # -- failover -------------------------------------------------------------------
    out.step("Fail over from demo-down")
    down = _find(client, "demo-down")
    body = _chat("demo-small", "Are you there?")
    out.code('down.dispatch(path="chat/completions", json=…)')
    direct = down.dispatch(path="chat/completions", json=body)
    out.note(f"demo-down alone answers [red]{direct.status_code}[/red]")
    out.code('down.with_failover(llm).dispatch(path="chat/completions", …)')
    response = down.with_failover(llm).dispatch(path="chat/completions", json=body)
    response.raise_for_status()
    flag = response.headers.get("x-unitysvc-failover", "-")
    out.ok(
        f"{response.status_code} from the secondary (x-unitysvc-failover: {flag}): "
        f"{escape(repr(_reply(response)))}"
    )

    # -- schedule -------------------------------------------------------------------
    out.step(f"Schedule a recurrent request every {SCHEDULE_SECONDS}s and watch it fire twice")
    small = _find(client, "demo-small")
    out.code(
        f'small.schedule(recurrence={{"schedule_type": "interval", "interval_seconds": '
        f'{SCHEDULE_SECONDS}}}, path="chat/completions", json=…)'
    )
    scheduled = small.schedule(
        recurrence={"schedule_type": "interval", "interval_seconds": SCHEDULE_SECONDS},
        path="chat/completions",
        json=_chat("demo-small", "tick"),
        name="demo tick",
    )
    out.note(f"recurrent request {scheduled.id}: {scheduled.status}")
    seen = 0
    deadline = time.monotonic() + 15
    while seen < 2:
        if time.monotonic() > deadline:
            raise TimeoutError("the recurrent request did not run twice within 15 s")
        time.sleep(0.2)
        state = client.recurrent_requests.get(scheduled.id).state or {}
        runs = int(state.get("run_count") or 0)
        while seen < min(runs, 2):
            seen += 1
            last = state.get("last_run_at") or ""
            at = datetime.fromisoformat(last).astimezone().strftime("%H:%M:%S") if last else "-"
            out.ok(f"run {seen} fired at {at}: upstream answered {state.get('last_status_code')}")
    out.code("client.recurrent_requests.delete(scheduled.id)")
    client.recurrent_requests.delete(scheduled.id)
    out.ok("schedule deleted")

    # -- request logs ---------------------------------------------------------------
    out.step("Read the request log of everything above")
    # Rows are written asynchronously, off the response path: give them a moment.
    # dispatch, stream, 2 cached, demo-down, failover + its secondary, 2 scheduled runs
    expected = 9
    out.code("client.request_logs.list()")
    page = client.request_logs.list(limit=50)
    deadline = time.monotonic() + 5
    while page.total_count < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        page = client.request_logs.list(limit=50)
    rows = []
    for item in reversed(page.items):
        at = datetime.fromisoformat(item.event_timestamp).astimezone().strftime("%H:%M:%S")
        ms = item.upstream_response_time_ms
        source = "schedule" if item.recurrent_request_id else "you"
        rows.append(
            [
                at,
                item.user_request_method,
                str(item.upstream_response_status_code or "-"),
                f"{ms:.0f}" if ms is not None else "-",
                source,
                item.user_request_path,
            ]
        )
    out.table(["Time", "Method", "Status", "ms", "By", "Path"], rows)
    out.ok(f"{page.total_count} request-log rows")

    # -- cost -----------------------------------------------------------------------
    _cost(out, client)


def _cost(out: _Printer, client: unitysvc.Client) -> None:
    """The last step: what the calls above cost this cycle."""
    out.step("See what it cost: this billing cycle's usage")
    out.code("client.usage.cycle()")
    # Usage is written off the response path, like the log rows: give it a moment.
    cycle = client.usage.cycle()
    deadline = time.monotonic() + 5
    while _requests(cycle) < METERED_CALLS and time.monotonic() < deadline:
        time.sleep(0.1)
        cycle = client.usage.cycle()
    services = cycle.services or []
    out.table(
        ["Service", "Requests", "Errors", "Tokens in/out", f"Charge ({cycle.currency})"],
        [
            [
                s.service_name,
                str(s.request_count),
                str(s.error_count),
                _tokens(s.usage_metrics),
                s.customer_charge,
            ]
            for s in services
        ],
    )
    out.ok(
        f"total {cycle.total_charge} {cycle.currency} for {_requests(cycle)} upstream calls: "
        "catalog price × the tokens each upstream reported; errors cost nothing"
    )


def _requests(cycle: Any) -> int:
    return sum(s.request_count for s in cycle.services or [])


def _tokens(metrics: Any) -> str:
    if metrics is None or metrics.input_tokens is None:
        return "-"
    return f"{metrics.input_tokens:.0f}/{(metrics.output_tokens or 0):.0f}"


def _run(console: Console, keep: bool) -> None:
    import unitysvc

    out = _Printer(console)
    began = time.perf_counter()
    console.print(
        "[bold]UnitySVC demo[/bold]: the whole platform on this machine, "
        "driven by the public SDK ([italic]unitysvc.Client[/italic])"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="usvc-demo-"))
    try:
        out.step("Start the platform (API + gateway + demo upstreams)")
        started = time.perf_counter()
        with _platform(data_dir, console) as platform:
            out.ok(
                f"listening on {platform.gateway_url} in {time.perf_counter() - started:.1f} s "
                f"(SQLite in {data_dir}, demo catalog)"
            )
            out.step("Create a customer")
            key = platform.create_customer(CUSTOMER)
            out.ok(f"customer {CUSTOMER!r} with API key {key[:12]}… (shown by prefix only)")
            out.code(f'client = unitysvc.Client(api_key, base_url="{platform.api_url}")')
            with unitysvc.Client(key, base_url=platform.api_url) as client:
                _walk(out, client)
            console.print()
            console.print(f"[bold green]Done[/bold green] in {time.perf_counter() - began:.1f} s.")
            if keep:
                _keep(console, platform.api_url, key)
    finally:
        # Also on errors and Ctrl-C: by now the platform has stopped (its ``with`` ended).
        shutil.rmtree(data_dir, ignore_errors=True)
        console.print("Platform stopped; temporary data removed.")


def _keep(console: Console, api_url: str, key: str) -> None:
    """Serve until Ctrl-C, after printing how to point your own code at the platform."""
    # Everything inside the try: Ctrl-C (or SIGTERM) may come as soon as the first line shows.
    try:
        console.print()
        console.print("The platform stays up. Point your own code or usvc at it:")
        console.print()
        # Plain lines (no markup, no wrapping) so they can be copied or eval'ed as they are.
        console.print(f"export UNITYSVC_API_URL={api_url}", markup=False, soft_wrap=True)
        console.print(f"export UNITYSVC_API_KEY={key}", markup=False, soft_wrap=True)
        console.print()
        console.print("then try: usvc groups list   or   python examples/quickstart.py")
        console.print("Press Ctrl-C to stop.")
        console.file.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print()


@app.command(
    "demo",
    epilog=examples("usvc demo", "usvc demo --keep"),
)
def demo(
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help="Keep the platform running after the walk-through (until Ctrl-C) and "
            "print the export lines for UNITYSVC_API_URL / UNITYSVC_API_KEY.",
        ),
    ] = False,
) -> None:
    """Run the whole platform locally and walk through the main job, step by step.

    Starts the platform on 127.0.0.1 (SQLite in a temporary directory, the demo
    catalog), creates a customer and, with the public SDK: browses groups and
    services, sets the request-log preference, stores a secret, enrolls in
    demo-byok, dispatches and streams chat completions, resolves a route, shows a
    cache hit, fails over from demo-down, runs a schedule twice, reads the request
    log and shows what it all cost. Leaves nothing running.
    """
    _require_platform()
    with _stop_on_signals():
        _run(stdout_console(), keep)


#: What the platform needs (the ``server`` extra), looked up without importing it.
_PLATFORM_MODULES = ("unitysvc_server.app", "fastapi", "uvicorn", "sqlalchemy", "aiosqlite")


def _require_platform() -> None:
    """Exit with what to install when the platform (the ``server`` extra) is missing.

    Only looks the modules up (``find_spec``): importing the platform takes about a
    second, which the demo spends behind a spinner instead of in silence.
    """
    from importlib.util import find_spec

    for name in _PLATFORM_MODULES:
        try:
            found = find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            fail(
                'usvc demo needs the platform: pip install "unitysvc[server]" '
                f"(cannot import {name})"
            )
