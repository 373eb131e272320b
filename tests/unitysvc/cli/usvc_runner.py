"""``Usvc``: runs ``usvc`` in-process, through Typer's click command, with a given environment.

A module of its own (not ``conftest``) so that test modules can import it by name
whichever test directories pytest is given together.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click.testing
import typer.main
from typer.testing import Result

from unitysvc.cli import app

#: ``usvc``'s click command, built from the Typer app once: Typer's runner rebuilds the
#: whole command tree (every command's signature) on each invocation, which cost more
#: CPU than most of the commands it ran. A click command is reusable, as in ``usvc``
#: itself, which builds it once per process.
COMMAND = typer.main.get_command(app)

#: Every variable the CLI reads; unset unless a test sets it.
CLEAN_ENV: dict[str, str | None] = {
    "UNITYSVC_API_KEY": None,
    "UNITYSVC_API_URL": None,
    "UNITYSVC_API_BASE_URL": None,
    "UNITYSVC_S3_BASE_URL": None,
    "UNITYSVC_SMTP_BASE_URL": None,
    "UNITYSVC_LOG": None,
    "NO_COLOR": "1",
    "COLUMNS": "200",
}


@dataclass
class Usvc:
    """Runs ``usvc`` in-process with a given environment."""

    env: Mapping[str, str | None]

    def __call__(
        self, *args: str, input: str | bytes | None = None, env: Mapping[str, str | None] = {}
    ) -> Result:
        runner = click.testing.CliRunner()
        return runner.invoke(
            COMMAND,
            list(args),
            input=input,
            env={**CLEAN_ENV, **self.env, **env},
            prog_name="usvc",
        )

    def ok(self, *args: str, input: str | bytes | None = None, **kw: Any) -> Result:
        """Run and assert exit status 0 (showing stderr on failure)."""
        result = self(*args, input=input, **kw)
        assert result.exit_code == 0, (
            f"usvc {' '.join(args)} exited {result.exit_code}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}\n{result.exception!r}"
        )
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        """Run with ``--json`` and parse stdout."""
        return json.loads(self.ok(*args, "--json", **kw).stdout)

    def fails(self, *args: str, code: int = 1, **kw: Any) -> str:
        """Run, assert exit status ``code`` and return the one ``error:`` line."""
        result = self(*args, **kw)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return one_error_line(result)


def one_error_line(result: Result) -> str:
    """The single ``error:`` line a failed command printed on stderr."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got: {result.stderr!r}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]
