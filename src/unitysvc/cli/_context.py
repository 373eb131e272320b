"""Global options, where each setting came from, and the one SDK client per run.

The root callback records the connection flags (``--api-key``, ``--base-url``,
``--api-base-url``); commands then call :func:`client`, which builds a
:class:`unitysvc.Client` from those flags, else the environment, else the defaults,
and closes it when the command ends.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import typer

from unitysvc._constants import (
    API_KEY_PREFIX,
    DEFAULT_API_URL,
    ENV_API_BASE_URL,
    ENV_API_KEY,
    ENV_API_URL,
    ENV_S3_BASE_URL,
    ENV_SMTP_BASE_URL,
)

if TYPE_CHECKING:
    from unitysvc import AsyncClient, Client

C = TypeVar("C", "Client", "AsyncClient")

#: Options accepted anywhere on the command line (``usvc secrets list --api-key …``
#: as well as ``usvc --api-key … secrets list``), mapped to whether they take a value.
GLOBAL_OPTIONS: dict[str, bool] = {
    "--api-key": True,
    "--base-url": True,
    "--api-base-url": True,
    "--debug": False,
}


@dataclass(frozen=True, slots=True)
class Setting:
    """One connection setting and its provenance.

    Attributes:
        value: The value in effect (None when unset).
        source: ``"flag"``, ``"env"``, ``"default"``, ``"derived"`` or ``"unset"``.
        origin: The flag or environment variable it came from, for display.
    """

    value: str | None
    source: str
    origin: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    """The connection settings in effect for this run."""

    api_key: Setting
    base_url: Setting
    api_base_url: Setting
    s3_base_url: Setting
    smtp_base_url: Setting

    def items(self) -> list[tuple[str, str, Setting]]:
        """``(name, environment variable, setting)`` rows, in display order."""
        return [
            ("api_key", ENV_API_KEY, self.api_key),
            ("base_url", ENV_API_URL, self.base_url),
            ("api_base_url", ENV_API_BASE_URL, self.api_base_url),
            ("s3_base_url", ENV_S3_BASE_URL, self.s3_base_url),
            ("smtp_base_url", ENV_SMTP_BASE_URL, self.smtp_base_url),
        ]


def _pick(flag_value: str | None, flag: str, env: str, environ: Mapping[str, str]) -> Setting:
    if flag_value:
        return Setting(flag_value, "flag", flag)
    # An empty variable (``UNITYSVC_API_KEY=``) counts as unset, as in most CLIs.
    env_value = environ.get(env)
    if env_value:
        return Setting(env_value, "env", env)
    return Setting(None, "unset")


def resolve_settings(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    api_base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Combine flags, environment and defaults (flags win, then the environment).

    Args:
        api_key: ``--api-key``.
        base_url: ``--base-url``.
        api_base_url: ``--api-base-url``.
        environ: The environment (``os.environ`` by default).

    Returns:
        The settings, each with its source.
    """
    env = os.environ if environ is None else environ
    key = _pick(api_key, "--api-key", ENV_API_KEY, env)
    base = _pick(base_url, "--base-url", ENV_API_URL, env)
    if base.value is None:
        base = Setting(DEFAULT_API_URL, "default")
    gateway = _pick(api_base_url, "--api-base-url", ENV_API_BASE_URL, env)
    if gateway.value is None:
        # The SDK's rule: the control-plane URL without its trailing ``/v1``.
        root = (base.value or "").rstrip("/").removesuffix("/v1")
        gateway = Setting(root, "derived", "base_url without /v1")
    return Settings(
        api_key=key,
        base_url=base,
        api_base_url=gateway,
        s3_base_url=_pick(None, "", ENV_S3_BASE_URL, env),
        smtp_base_url=_pick(None, "", ENV_SMTP_BASE_URL, env),
    )


class _State:
    """Per-run state: the settings and the lazily built client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Client | None = None

    def client(self) -> Client:
        if self._client is None:
            self._client = _build_client(self.settings)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


_state: _State | None = None


def start_run(ctx: typer.Context, settings: Settings) -> None:
    """Record this run's settings; the client is closed when the run ends."""
    global _state
    state = _State(settings)
    _state = state
    ctx.call_on_close(state.close)


def current_settings() -> Settings:
    """The settings of the running command (from the environment if none recorded)."""
    return _state.settings if _state is not None else resolve_settings()


def client() -> Client:
    """The SDK client of the running command, built on first use."""
    global _state
    if _state is None:
        _state = _State(resolve_settings())
    return _state.client()


def build_client(settings: Settings, cls: type[C]) -> C:
    """A :class:`~unitysvc.Client` or :class:`~unitysvc.AsyncClient` for ``settings``.

    Every command's client and ``usvc mcp``'s async one are built here, so both read
    flags and environment alike and check the key's shape first.

    Raises:
        typer.BadParameter: The key does not look like a customer key.
    """
    key = settings.api_key
    if key.value is not None and not key.value.startswith(API_KEY_PREFIX):
        where = "--api-key" if key.source == "flag" else f"${key.origin}"
        raise typer.BadParameter(
            f"customer keys start with {API_KEY_PREFIX!r}; check the value of {where}",
            param_hint=where,
        )
    return cls(
        key.value,
        base_url=settings.base_url.value,
        api_base_url=settings.api_base_url.value,
        s3_base_url=settings.s3_base_url.value,
        smtp_base_url=settings.smtp_base_url.value,
    )


def _build_client(settings: Settings) -> Client:
    from unitysvc import Client

    return build_client(settings, Client)


def hoist_global_options(args: list[str], commands: set[str]) -> list[str]:
    """Move global options found after a subcommand to the front.

    ``usvc secrets list --api-key K`` then parses like ``usvc --api-key K secrets
    list``. Arguments after ``--`` and commands that are not ours (``server``,
    plugins) are left untouched.

    Args:
        args: The command-line arguments (without the program name).
        commands: Names of the subcommands whose arguments may be rearranged.

    Returns:
        The rearranged arguments.
    """
    command_at = _command_index(args)
    if command_at is None or args[command_at] not in commands:
        return args
    hoisted: list[str] = []
    rest: list[str] = []
    i = command_at
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name, eq, _ = arg.partition("=")
        takes_value = GLOBAL_OPTIONS.get(name)
        if takes_value is None or (eq and not takes_value):
            rest.append(arg)
        elif takes_value and not eq:
            hoisted.extend(args[i : i + 2])
            i += 1
        else:
            hoisted.append(arg)
        i += 1
    return [*args[:command_at], *hoisted, *rest]


def _command_index(args: list[str]) -> int | None:
    """Index of the subcommand name: the first word that is not an option or its value."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return i
        if GLOBAL_OPTIONS.get(arg):
            i += 1  # skip the option's value
        i += 1
    return None
