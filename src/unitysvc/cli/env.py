"""``usvc env``: the settings in effect and where each one came from."""

from __future__ import annotations

from typing import Any

from unitysvc._keys import redact_key
from unitysvc.cli._context import Setting, current_settings
from unitysvc.cli._output import JsonFlag, emit, examples, print_table

_SOURCES = {
    "flag": "flag {origin}",
    "env": "env ${origin}",
    "default": "default",
    "derived": "derived ({origin})",
    "unset": "unset",
}


def _shown(name: str, setting: Setting) -> str | None:
    if name == "api_key" and setting.value is not None:
        return redact_key(setting.value)
    return setting.value


def _source(setting: Setting) -> str:
    return _SOURCES[setting.source].format(origin=setting.origin)


EPILOG = examples(
    "usvc env",
    "usvc --base-url http://127.0.0.1:8000/v1 env --json",
)


def env(as_json: JsonFlag = False) -> None:
    """Show the connection settings in effect and where each came from.

    Each setting comes from a flag (--api-key, --base-url, --api-base-url), else an
    environment variable, else a default. API keys are shown by prefix only.
    """
    settings = current_settings()
    data: dict[str, Any] = {
        name: {
            "value": _shown(name, setting),
            "source": setting.source,
            "origin": setting.origin or None,
            "env": env_var,
        }
        for name, env_var, setting in settings.items()
    }

    def render(_: Any) -> None:
        print_table(
            ["Setting", "Value", "Source", "Environment variable"],
            [
                [name, _shown(name, setting), _source(setting), env_var]
                for name, env_var, setting in settings.items()
            ],
            empty="No settings.",
        )

    emit(data, as_json, render)
