"""``usvc preferences``: the named preferences of the account your key acts for."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from unitysvc.cli._context import client
from unitysvc.cli._output import JsonFlag, emit, examples, print_record, print_table

app = typer.Typer(
    help="Your preferences: where notices go (notification), the AI behind /ai (ai) "
    "and the request-logging mode (request-log).",
    no_args_is_help=True,
    epilog=examples(
        "usvc preferences list",
        "usvc preferences request-log complete",
        "usvc preferences set ai demo-small",
    ),
)

Name = Annotated[
    str, typer.Argument(help="notification, ai or request-log.", metavar="NAME", show_default=False)
]
_MODES = ("truncated", "complete", "off")


def _value(value: Any) -> str:
    """A preference value as a person reads it: the mode, or the service (and gateway)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    service = str(getattr(value, "service", value))
    gateway = getattr(value, "gateway", None)
    return f"{service} (gateway {gateway})" if gateway else service


def _render_one(pref: Any) -> None:
    print_record(
        {
            "name": pref.name,
            "value": _value(pref.value),
            "effective": _value(pref.effective),
            "source": pref.source,
            "account": f"{pref.account.type} {pref.account.name} ({pref.account.id})",
            "can_edit": pref.can_edit,
        }
    )


@app.command("list", epilog=examples("usvc preferences list", "usvc preferences list --json"))
def list_preferences(as_json: JsonFlag = False) -> None:
    """List every preference: your value, the one in effect and where it comes from."""
    listed = client().preferences.list().data

    def render(page: Any) -> None:
        print_table(
            ["Name", "Value", "Effective", "Source"],
            [[p.name, _value(p.value), _value(p.effective), p.source] for p in page],
            empty="No preferences.",
        )

    emit(listed, as_json, render)


@app.command("get", epilog=examples("usvc preferences get request-log --json"))
def get_preference(name: Name, as_json: JsonFlag = False) -> None:
    """Show one preference."""
    emit(client().preferences.get(name), as_json, _render_one)


@app.command(
    "set",
    epilog=examples(
        "usvc preferences set ai demo-small",
        "usvc preferences set notification g/llm --gateway api",
        "usvc preferences set request-log truncated",
    ),
)
def set_preference(
    name: Name,
    value: Annotated[
        str,
        typer.Argument(
            help="A service (demo-small, g/llm, a/<alias>, b/<broadcast>, e/<CODE>) for "
            "notification and ai; truncated or complete for request-log.",
            metavar="VALUE",
            show_default=False,
        ),
    ],
    gateway: Annotated[
        str | None,
        typer.Option("--gateway", help="The gateway a service is reached through: api, s3, smtp."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set one preference (checked by the platform; errors name what is allowed)."""
    prefs = client().preferences
    done = (
        prefs.set(name, {"service": value, "gateway": gateway})
        if gateway is not None
        else prefs.set(name, value)
    )
    emit(done, as_json, _render_one, done=f"Set {done.name} to {_value(done.value)}")


@app.command("clear", epilog=examples("usvc preferences clear ai"))
def clear_preference(name: Name, as_json: JsonFlag = False) -> None:
    """Clear one preference back to its default (clearing request-log turns logging off)."""
    done = client().preferences.clear(name)
    emit(done, as_json, _render_one, done=f"Cleared {done.name}")


@app.command(
    "request-log",
    epilog=examples(
        "usvc preferences request-log             # show the mode",
        "usvc preferences request-log complete    # whole bodies",
        "usvc preferences request-log off",
    ),
)
def request_log(
    mode: Annotated[
        str | None,
        typer.Argument(
            help="truncated (8 KB body previews), complete (whole bodies) or off. "
            "Omit it to show the mode.",
            metavar="MODE",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show or set the request-logging mode."""
    if mode is not None and mode not in _MODES:
        raise typer.BadParameter(
            f"{mode!r} is not a mode: use truncated, complete or off", param_hint="MODE"
        )
    prefs = client().preferences
    if mode is None:
        current = prefs.get("request-log")
        emit(current, as_json, lambda p: typer.echo(_mode_line(p)))
        return
    done = prefs.set_request_log_mode(None if mode == "off" else mode)  # type: ignore[arg-type]
    emit(done, as_json, done=_mode_line(done))


def _mode_line(pref: Any) -> str:
    if pref.effective is None:
        return "Request logging is off"
    return f"Request logging is on: {pref.effective}"
