"""Commands loaded on demand: ``server``, ``demo`` and sibling CLIs (plugins).

Listing a command in ``usvc --help`` must not import it: ``usvc server`` pulls in
FastAPI and SQLAlchemy (and may not be installed at all). A :class:`LazyCommand`
answers the help listing from static text and loads its target only in
``make_context``, which runs for the one command being invoked.

Sibling CLIs plug in as the official ``usvc`` allows:

- an entry point in the ``usvc.commands`` group (a Typer app or click command)::

      [project.entry-points."usvc.commands"]
      seller = "unitysvc_sellers.cli:app"

- or an executable ``usvc-<name>`` on ``PATH`` (for tools installed in their own
  environments by ``pipx`` or ``uv tool``); ``usvc <name> ARGS`` runs it.

Built-in commands always win. ``USVC_NO_PLUGINS=1`` turns discovery off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from unitysvc.cli._output import fail

ENTRY_POINT_GROUP = "usvc.commands"
DISABLE_ENV = "USVC_NO_PLUGINS"
_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


class LazyCommand(TyperCommand):
    """A command whose real implementation is loaded when it is invoked.

    Args:
        name: The command name.
        loader: Returns the real click command (called at most once).
        help: One line for ``usvc --help``.
        panel: The help panel it is listed in.
    """

    def __init__(
        self, name: str, loader: Callable[[], Any], help: str, panel: str | None = None
    ) -> None:
        super().__init__(
            name,
            help=help,
            short_help=help,
            rich_help_panel=panel,
            add_help_option=False,
            context_settings=dict(_PASS_THROUGH),
        )
        self._loader = loader
        self._target: Any = None

    def target(self) -> Any:
        """The real command."""
        if self._target is None:
            self._target = self._loader()
        return self._target

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        # The context belongs to the real command: click then invokes it directly,
        # with its own options, subcommands, --help and completion.
        return self.target().make_context(info_name, args, parent=parent, **extra)


def as_command(obj: Any, name: str, help_text: str, panel: str | None) -> Any:
    """A click command for a Typer app, a click command, or a plain function."""
    if isinstance(obj, typer.Typer):
        command = typer.main.get_command(obj)
        command.name = name
        command.help = command.help or help_text
        return command
    if hasattr(obj, "make_context"):
        return obj
    if callable(obj):
        single = typer.Typer()
        single.command(name, help=obj.__doc__ or help_text, rich_help_panel=panel)(obj)
        return typer.main.get_command(single)
    raise TypeError(f"{name!r} is neither a Typer app, a click command nor a function")


def failing_command(name: str, message: str) -> Any:
    """A command that prints ``error: message`` and exits 1, whatever its arguments."""
    stub = typer.Typer()

    @stub.command(name, context_settings=dict(_PASS_THROUGH), add_help_option=False)
    def _fail() -> None:
        fail(message)

    return typer.main.get_command(stub)


def _enabled() -> bool:
    return not os.environ.get(DISABLE_ENV)


def entry_point_names() -> dict[str, Any]:
    """Commands advertised in the ``usvc.commands`` entry-point group (not imported)."""
    if not _enabled():
        return {}
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def path_names() -> set[str]:
    """Names of ``usvc-<name>`` executables on ``PATH``."""
    if not _enabled():
        return set()
    names: set[str] = set()
    for directory in os.get_exec_path():
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            stem = os.path.splitext(entry.name)[0] if os.name == "nt" else entry.name
            if stem.startswith("usvc-") and len(stem) > 5 and os.access(entry.path, os.X_OK):
                names.add(stem[5:])
    return names


def plugin_command(name: str) -> Any:
    """A lazy command for plugin ``name``, or None when there is none."""
    entry_point = entry_point_names().get(name)
    if entry_point is not None:
        origin = getattr(getattr(entry_point, "dist", None), "name", None) or entry_point.module

        def load() -> Any:
            try:
                return as_command(entry_point.load(), name, "", None)
            except Exception as exc:  # a broken plugin must not break usvc itself
                return failing_command(name, f"the {name!r} command failed to load: {exc}")

        return LazyCommand(name, load, f"Provided by {origin}.", "Plugins")
    executable = shutil.which(f"usvc-{name}") if _enabled() else None
    if executable is not None:
        return LazyCommand(
            name, lambda: _external(name, executable), f"Runs {executable}.", "Plugins"
        )
    return None


def _external(name: str, executable: str) -> Any:
    """A pass-through command that runs ``executable`` with the remaining arguments."""
    stub = typer.Typer()

    @stub.command(name, context_settings=dict(_PASS_THROUGH), add_help_option=False)
    def _run(args: Annotated[list[str] | None, typer.Argument()] = None) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        raise typer.Exit(subprocess.call([executable, *(args or [])]))

    return typer.main.get_command(stub)
