"""``usvc secrets``: your encrypted secret store. Values are never printed."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from unitysvc.cli import _input
from unitysvc.cli._context import client
from unitysvc.cli._dotenv import DotenvEntry, DotenvError, parse_dotenv
from unitysvc.cli._output import (
    JsonFlag,
    describe_error,
    emit,
    examples,
    fail,
    info,
    print_json,
    print_record,
    print_table,
    success,
)

app = typer.Typer(
    help="Your secrets: set, upload a .env, list, delete. Values are never printed.\n\n"
    "Gateway requests reference them as ${ customer_secrets.NAME } (BYOK keys, tokens).",
    no_args_is_help=True,
    epilog=examples(
        "usvc secrets set OPENAI_API_KEY", "usvc secrets upload .env", "usvc secrets list"
    ),
)

SecretName = Annotated[
    str, typer.Argument(help="Secret name: A-Z, 0-9 and _, e.g. OPENAI_API_KEY.")
]

_FIELDS = [
    "name",
    "sensitive",
    "value",
    "description",
    "id",
    "created_at",
    "updated_at",
    "last_used_at",
]


def _checked(name: str, hint: str = "NAME") -> str:
    from unitysvc.secrets import check_secret_name

    try:
        return check_secret_name(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


def _kind(secret: Any) -> str:
    return "secret" if secret.sensitive else "variable"


@app.command("list", epilog=examples("usvc secrets list", "usvc secrets list --json"))
def list_secrets(as_json: JsonFlag = False) -> None:
    """List your secrets (names and metadata; variables show their value)."""
    rows = list(client().secrets.iter())

    def render(items: Any) -> None:
        print_table(
            ["Name", "Kind", "Value", "Updated", "Last used"],
            [
                [
                    s.name,
                    _kind(s),
                    s.value if not s.sensitive else "••••••",
                    s.updated_at or s.created_at,
                    s.last_used_at,
                ]
                for s in items
            ],
            empty="No secrets. Add one with: usvc secrets set NAME",
        )

    emit(rows, as_json, render)


@app.command("show", epilog=examples("usvc secrets show OPENAI_API_KEY --json"))
def show_secret(name: SecretName, as_json: JsonFlag = False) -> None:
    """Show a secret's metadata (never its value)."""
    emit(client().secrets.get(_checked(name)), as_json, lambda s: print_record(s, fields=_FIELDS))


def _read_value(value: str | None, from_env: str | None) -> tuple[str, str]:
    """The value and where it came from (for the empty-value message)."""
    if value is not None and from_env is not None:
        raise typer.BadParameter("give either --value or --from-env, not both")
    if value is not None:
        return value, "--value"
    if from_env is not None:
        found = os.environ.get(from_env)
        if found is None:
            raise typer.BadParameter(f"${from_env} is not set", param_hint="--from-env")
        return found, f"${from_env}"
    if sys.stdin.isatty():
        prompted: str = typer.prompt("Value", hide_input=True, confirmation_prompt=True)
        return prompted, "the prompt"
    # Piped: ``printf %s "$KEY" | usvc secrets set NAME``; one trailing newline is
    # the shell's, not the secret's.
    text = sys.stdin.read()
    return (text[:-1] if text.endswith("\n") else text), "stdin"


@app.command(
    "set",
    epilog=examples(
        "usvc secrets set OPENAI_API_KEY            # prompts, input hidden",
        "usvc secrets set OPENAI_API_KEY --from-env OPENAI_API_KEY",
        "pass show openai | usvc secrets set OPENAI_API_KEY",
        "usvc secrets set NOTIFY_EMAIL --value me@example.com --variable",
    ),
)
def set_secret(
    name: SecretName,
    value: Annotated[
        str | None,
        typer.Option(
            "--value",
            help="The value. Prefer --from-env or stdin: command lines end up in shell history.",
        ),
    ] = None,
    from_env: Annotated[
        str | None,
        typer.Option(
            "--from-env", metavar="VAR", help="Read the value from this environment variable."
        ),
    ] = None,
    variable: Annotated[
        bool,
        typer.Option(
            "--variable", help="Store a readable variable instead of a write-only secret."
        ),
    ] = False,
    description: Annotated[
        str | None, typer.Option("--description", help="What it is and how to get one.")
    ] = None,
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Store an empty value (refused otherwise)."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create or replace a secret. The value is read from --value, --from-env or stdin.

    Without --value or --from-env the value is read from stdin, or prompted for
    (hidden) on a terminal. It is never echoed. An empty value is refused unless
    --allow-empty is given: it is almost always a missing pipe or variable.
    """
    _checked(name)
    secret_value, source = _read_value(value, from_env)
    if not secret_value and not allow_empty:
        raise typer.BadParameter(
            f"the value read from {source} is empty; nothing was stored. Pass the value "
            "(--value, --from-env VAR or a pipe), or --allow-empty to store an empty one",
            param_hint="VALUE",
        )
    secret = client().secrets.set(
        name, secret_value, sensitive=False if variable else None, description=description
    )
    emit(secret, as_json, done=f"Set {_kind(secret)} {secret.name}")


@app.command("delete", epilog=examples("usvc secrets delete OPENAI_API_KEY --yes"))
def delete_secret(
    name: SecretName,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a secret. This cannot be undone."""
    _checked(name)
    _input.confirm(f"Delete secret {name}?", yes)
    client().secrets.delete(name)
    success(f"Deleted secret {name}")


def _upload(entries: list[DotenvEntry]) -> None:
    from unitysvc.exceptions import UnitysvcSDKError

    secrets = client().secrets
    for done, entry in enumerate(entries):
        try:
            secrets.set(
                entry.name, entry.value, sensitive=entry.sensitive, description=entry.description
            )
        except UnitysvcSDKError as exc:
            fail(
                f"{entry.name} (line {entry.line}): {describe_error(exc)}; "
                f"{done} of {len(entries)} set before it"
            )


@app.command(
    "upload",
    epilog=examples(
        "usvc secrets upload .env",
        "usvc secrets upload .env.example --dry-run",
        "sops -d secrets.env | usvc secrets upload -",
    ),
)
def upload_secrets(
    file: Annotated[str, typer.Argument(help=".env file to read, or - for stdin.", metavar="FILE")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Parse and list the names; send nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Set every secret of a .env file (idempotent).

    Understands comments, quotes, multi-line quoted values and `export ` prefixes.
    ${NAME} and ${NAME:-default} are taken from your environment. The # lines above
    an assignment become its description; a trailing "# variable" stores a readable
    variable. Every name is checked before anything is sent.
    """
    if file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot read {file}: {exc.strerror or exc}", param_hint="FILE"
            ) from None
    try:
        entries = parse_dotenv(text, os.environ)
    except DotenvError as exc:
        raise typer.BadParameter(f"{file}: {exc}", param_hint="FILE") from None
    for entry in entries:
        _checked(entry.name, hint=f"FILE line {entry.line}")
    if not entries:
        info(f"No assignments in {file}; nothing to upload.")
        return
    rows = [
        {
            "name": entry.name,
            "kind": "variable" if entry.sensitive is False else "secret",
            "description": entry.description,
            "status": "would set" if dry_run else "set",
        }
        for entry in entries
    ]
    if not dry_run:
        _upload(entries)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["Name", "Kind", "Description", "Status"],
        [[r["name"], r["kind"], r["description"], r["status"]] for r in rows],
        empty="No secrets.",
    )
    verb = "Would set" if dry_run else "Set"
    success(f"{verb} {len(rows)} secret(s) from {file}")
