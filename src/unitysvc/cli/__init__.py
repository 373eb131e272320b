"""``usvc``: the UnitySVC command line, over the SDK.

Every command builds one :class:`unitysvc.Client` from ``--api-key`` /
``--base-url`` / ``--api-base-url`` (else ``UNITYSVC_API_KEY``, ``UNITYSVC_API_URL``,
``UNITYSVC_API_BASE_URL``) and calls the SDK; SDK errors become one ``error:`` line
on stderr and exit status 1, usage errors exit 2.

``usvc server`` (the self-hosted platform, from ``unitysvc_server.cli``),
``usvc demo`` (from ``unitysvc.cli.demo``, an ``app`` Typer or a function) and
plugins (see :mod:`unitysvc.cli._plugins`) are imported only when invoked, so
``usvc --help`` stays fast and works without the ``server`` extra.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from unitysvc._version import __version__
from unitysvc.cli import (
    _plugins,
    aliases,
    budgets,
    enrollments,
    env,
    files,
    gateway,
    groups,
    mcp,
    preferences,
    recurrent_requests,
    request_logs,
    secrets,
    services,
    usage,
)
from unitysvc.cli._context import hoist_global_options, resolve_settings, start_run
from unitysvc.cli._output import describe_error, fail

__all__ = ["app", "main"]

_CATALOG = "Catalog and gateway"
_ACCOUNT = "Your account"
_PLATFORM = "Self-hosted platform"
_SETUP = "Setup"
_AGENTS = "AI agents"


@dataclass(frozen=True, slots=True)
class _Lazy:
    """A command imported only when invoked.

    Attributes:
        module: Module holding the command.
        attribute: A ``typer.Typer`` app, or a function to wrap as a command.
        help: One-line help shown by ``usvc --help`` without importing the module.
        panel: Help panel of ``usvc --help``.
        missing_hint: Printed when the module's dependencies are not installed.
        optional: Listed only when its module exists (else always listed, so that
            invoking it explains what to install).
    """

    module: str
    attribute: str
    help: str
    panel: str
    missing_hint: str
    optional: bool = False


_LAZY: dict[str, _Lazy] = {
    "demo": _Lazy(
        "unitysvc.cli.demo",
        "app",
        "Run the whole platform locally and walk through the main job, step by step.",
        _PLATFORM,
        'usvc demo needs the platform: pip install "unitysvc[server]"',
        optional=True,
    ),
    "server": _Lazy(
        "unitysvc_server.cli",
        "server_app",
        "Run and administer a self-hosted UnitySVC platform (start, keys).",
        _PLATFORM,
        'usvc server needs the platform: pip install "unitysvc[server]"',
    ),
}


def _load(name: str, entry: _Lazy) -> Any:
    """Import a lazy command, or explain what to install when that fails."""
    try:
        module = importlib.import_module(entry.module)
    except ImportError as exc:
        missing = f" (cannot import {exc.name})" if exc.name else ""
        return _plugins.failing_command(name, entry.missing_hint + missing)
    target = getattr(module, entry.attribute, None)
    if target is None:
        return _plugins.failing_command(name, f"{entry.module} defines no {entry.attribute!r}")
    return _plugins.as_command(target, name, entry.help, entry.panel)


def _offered(entry: _Lazy) -> bool:
    """Whether a lazy command is listed (checked without importing it)."""
    if not entry.optional:
        return True
    from importlib.util import find_spec

    try:
        return find_spec(entry.module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


class _RootGroup(TyperGroup):
    """The ``usvc`` group: lazy commands, plugins, options anywhere, one-line errors."""

    def list_commands(self, ctx: Any) -> list[str]:
        builtins = [
            *super().list_commands(ctx),
            *(name for name, entry in _LAZY.items() if _offered(entry)),
        ]
        plugins = (set(_plugins.entry_point_names()) | _plugins.path_names()) - set(builtins)
        return [*builtins, *sorted(plugins)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        entry = _LAZY.get(cmd_name)
        if entry is not None and _offered(entry):
            return _plugins.LazyCommand(
                cmd_name, lambda: _load(cmd_name, entry), entry.help, entry.panel
            )
        return _plugins.plugin_command(cmd_name)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ours = set(super().list_commands(ctx))
        return super().parse_args(ctx, hoist_global_options(args, ours))

    def invoke(self, ctx: Any) -> Any:
        from unitysvc.exceptions import UnitysvcSDKError

        try:
            return super().invoke(ctx)
        except UnitysvcSDKError as exc:
            fail(describe_error(exc))
        except (ValueError, TimeoutError) as exc:
            # The SDK's local checks (an ambiguous interface, a bad TTL, an enrollment
            # that did not settle in time) say what to do; show them as one line.
            fail(str(exc))


app = typer.Typer(
    name="usvc",
    cls=_RootGroup,
    help=(
        "UnitySVC from the terminal: browse the catalog, manage secrets, enrollments, "
        "aliases, schedules, preferences and files, call services through the gateway "
        "and see what they cost."
    ),
    epilog=(
        "Settings come from flags, else UNITYSVC_API_KEY / UNITYSVC_API_URL / "
        "UNITYSVC_API_BASE_URL; see [bold]usvc env[/bold]. "
        "Every command has --help with examples; most read commands take --json."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"usvc (unitysvc) {__version__}")
        raise typer.Exit()


_debug_handler: logging.StreamHandler[Any] | None = None


def _enable_debug() -> None:
    """Send the SDK's debug log (method, URL, status, timing; no secrets) to stderr."""
    global _debug_handler
    logger = logging.getLogger("unitysvc")
    logger.setLevel(logging.DEBUG)
    if _debug_handler is None:
        _debug_handler = logging.StreamHandler()
        _debug_handler.setFormatter(logging.Formatter("debug: %(message)s"))
    _debug_handler.setStream(sys.stderr)
    if _debug_handler not in logger.handlers:
        logger.addHandler(_debug_handler)


@app.callback()
def _root(
    ctx: typer.Context,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="svcpass_…",
            help="Customer API key. [dim]\\[env: UNITYSVC_API_KEY][/dim]",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            metavar="URL",
            help="Control-plane URL, e.g. http://127.0.0.1:8000/v1. "
            "[dim]\\[env: UNITYSVC_API_URL; default: https://api.unitysvc.com/v1][/dim]",
            show_default=False,
        ),
    ] = None,
    api_base_url: Annotated[
        str | None,
        typer.Option(
            "--api-base-url",
            metavar="URL",
            help="Gateway root URL. [dim]\\[env: UNITYSVC_API_BASE_URL; default: the "
            "base URL without /v1][/dim]",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Log each HTTP request to stderr (keys are redacted)."),
    ] = False,
    version: Annotated[  # noqa: ARG001 (handled by its eager callback)
        bool,
        typer.Option(
            "--version", "-V", help="Show the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    if debug:
        _enable_debug()
    start_run(ctx, resolve_settings(api_key=api_key, base_url=base_url, api_base_url=api_base_url))


app.command("env", epilog=env.EPILOG, rich_help_panel=_SETUP)(env.env)
app.add_typer(groups.app, name="groups", rich_help_panel=_CATALOG)
app.add_typer(services.app, name="services", rich_help_panel=_CATALOG)
app.command("resolve", epilog=gateway.RESOLVE_EPILOG, rich_help_panel=_CATALOG)(gateway.resolve)
app.command("dispatch", epilog=gateway.DISPATCH_EPILOG, rich_help_panel=_CATALOG)(gateway.dispatch)
app.add_typer(enrollments.app, name="enrollments", rich_help_panel=_ACCOUNT)
app.add_typer(secrets.app, name="secrets", rich_help_panel=_ACCOUNT)
app.add_typer(aliases.app, name="aliases", rich_help_panel=_ACCOUNT)
app.add_typer(recurrent_requests.app, name="recurrent-requests", rich_help_panel=_ACCOUNT)
app.add_typer(request_logs.app, name="request-logs", rich_help_panel=_ACCOUNT)
app.add_typer(preferences.app, name="preferences", rich_help_panel=_ACCOUNT)
app.command("usage", epilog=usage.EPILOG, rich_help_panel=_ACCOUNT)(usage.usage)
app.add_typer(budgets.app, name="budgets", rich_help_panel=_ACCOUNT)
app.add_typer(files.app, name="files", rich_help_panel=_ACCOUNT)
app.command("mcp", epilog=mcp.EPILOG, rich_help_panel=_AGENTS)(mcp.mcp)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``usvc`` console script."""
    app(args=list(argv) if argv is not None else None, prog_name="usvc")
