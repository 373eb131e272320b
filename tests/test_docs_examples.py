"""Every example in README.md and examples/ runs against a real local platform.

* README ``python`` blocks run in order in one namespace (as a reader would paste
  them), with ``UNITYSVC_API_URL`` / ``UNITYSVC_API_KEY`` naming a fresh customer of a
  demo :class:`LocalPlatform`; each section's output is checked.
* Blocks defining ``test_*`` functions, and ``examples/test_*.py``, run under pytest
  in a child process (the fixtures come from the installed plugin, as for users).
* The ``usvc`` lines of the README's command-line section run through the CLI.
* Every other ``examples/*.py`` runs as ``__main__`` and its output is checked.

Shell blocks elsewhere (installing, starting servers) are ``bash`` and not run;
``json`` blocks (client configurations) are only parsed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import runpy
import shlex
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unitysvc_server.testing import LocalPlatform

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("test_"))
TEST_FILES = sorted(EXAMPLES.glob("test_*.py"))

#: Settings a user's shell might hold; the examples must only see the test's.
CLIENT_ENV = (
    "UNITYSVC_API_KEY",
    "UNITYSVC_API_URL",
    "UNITYSVC_API_BASE_URL",
    "UNITYSVC_S3_BASE_URL",
    "UNITYSVC_SMTP_BASE_URL",
    "UNITYSVC_LOG",
)

#: What each README section's python blocks print (substrings), by heading.
README_OUTPUT: dict[str, list[str]] = {
    "## The SDK": ["Client(base_url='http://127.0.0.1:", "svcpass_"],
    "### Groups and services": ["llm 3", "demo-small", "p/", "canonical http://127.0.0.1:"],
    "### Calling services": ["200 [demo-small] Hello!", "demo-large"],
    "### Streaming": ["200 text/event-stream", "[demo-small] Hello!"],
    "### Secrets": ["DEMO_API_KEY True None", "REGION False eu-west-1"],
    "### Enrollments": ["active e/", "[demo-byok] Hello!"],
    "### Aliases": ["demo-small\ndemo-large\n", "g/llm True"],
    "### Recurrent requests": ["active", "[demo-small] Hello!", "0 9 * * 1-5"],
    "### Request logs": ["g/llm/v1/chat/completions 200", "'content': 'Hello!'}] 200"],
    "### Preferences": ["request-log complete account", "ai service='demo-small'", "mode True"],
    "### Usage and cost": ["True\n", "USD", "demo-small "],
    "### Budgets": ["all 25 USD", "True\n402 small-cap\n200\n", "small-cap "],
    "### Chains, broadcasts, files": [
        "200 [demo-small] Hello!",
        "2 ['small', 'llm']",
        "202 True",
        "docs/notes.txt ['docs/notes.txt']",
        "remember the milk",
    ],
    "### Resolve": ["weighted_random", "demo-medium 30", "['demo-large']"],
    "### Wrappers: cache, log, failover, tee": ["miss hit", "200 1", "l/m/f/g/llm?"],
    "### Errors and retries": [
        "404 ",
        "group 'no-such-group' not found",
        "401",
        "name invalid name='not a valid name'",
        "NOT_A_VALID_NAME",
        "5 2",
        "True",
    ],
    "### Typed results": ["True True", "True DEMO_API_KEY True", "customer True", "DEMO_API_KEY"],
    "### Async": ["['demo-small', 'demo-medium', 'demo-large']", "DEMO_API_KEY"],
    "## Testing your code against a real local platform": ["['all_services', 'llm']"],
}

#: What each example script prints (substrings).
EXAMPLE_OUTPUT: dict[str, list[str]] = {
    "quickstart.py": ["llm", "Reply (200): [demo-medium]", "Streamed: [demo-medium] What"],
    "bring_your_own_key.py": [
        "secret DEMO_API_KEY stored (sensitive: True)",
        ": active at e/",
        "reply: [demo-byok] It is my key",
        "via e/",
        "without the secret: 4",
    ],
    "resilient_calls.py": [
        "call 1: 200 cache=miss",
        "call 2: 200 cache=hit",
        "renewed: miss",
        "demo-down alone: 503",
        "with failover: 200 (x-unitysvc-failover: 1) [demo-large] Still there?",
        "teed: t/g/llm?_to=",
        "503  demo-down/v1/chat/completions",
    ],
    "scheduled_jobs.py": ["every second: active", "run 2: last status 200", "now paused"],
    "async_fan_out.py": ["demo-small   [demo-small] Name one", "streamed:    [demo-"],
}


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    lang: str
    code: str
    line: int  # line number of the first code line (1-based)
    heading: str  # the nearest ``#`` heading above it


def fenced_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of ``path``, with their language and position."""
    blocks: list[Block] = []
    heading = ""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            heading = line.strip()
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence:
            start = index + 1
            end = start
            while not lines[end].startswith("```"):
                end += 1
            blocks.append(
                Block(fence.group(1), "\n".join(lines[start:end]) + "\n", start + 1, heading)
            )
            index = end
        index += 1
    return blocks


def python_blocks() -> list[Block]:
    return [b for b in fenced_blocks(README) if b.lang == "python"]


@pytest.fixture
def customer_env(
    unitysvc_platform: LocalPlatform, unitysvc_api_key: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The environment a user of ``usvc demo --keep`` has: a fresh customer's settings."""
    for name in CLIENT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UNITYSVC_API_URL", unitysvc_platform.api_url)
    monkeypatch.setenv("UNITYSVC_API_KEY", unitysvc_api_key)
    yield unitysvc_api_key


def test_readme_blocks_are_python_bash_or_json() -> None:
    blocks = fenced_blocks(README)
    assert {b.lang for b in blocks} <= {"python", "bash", "json"}, [
        (b.line, b.lang) for b in blocks
    ]
    # JSON blocks (client configurations) are not run, but must be valid JSON.
    for block in blocks:
        if block.lang == "json":
            json.loads(block.code)
    assert len(python_blocks()) >= 15
    # The Quick start is exactly the two promised commands.
    quick = [b.code.strip() for b in blocks if b.heading == "## Quick start" and b.lang == "bash"]
    assert 'pip install -e ".[server]" && usvc demo' in quick
    assert 'pip install -e ".[dev]" && pytest' in quick


def test_readme_python_blocks_run_in_order(
    customer_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace: dict[str, object] = {"__name__": "__readme__"}
    printed: dict[str, str] = defaultdict(str)
    for block in python_blocks():
        # Padding keeps tracebacks pointing at the README's own line numbers.
        code = compile("\n" * (block.line - 1) + block.code, str(README), "exec")
        exec(code, namespace)
        printed[block.heading] += capsys.readouterr().out
    namespace["client"].close()  # type: ignore[attr-defined]

    for heading, expected in README_OUTPUT.items():
        assert heading in printed, f"no python block under {heading!r}"
        for text in expected:
            assert text in printed[heading], (heading, text, printed[heading])
    # The secret values of the examples never show up in what they print.
    everything = "".join(printed.values())
    assert "sk-demo-byok-0123456789" not in everything
    assert customer_env not in everything


def _run_readme() -> str:
    """All README python blocks (but the pytest ones) in a fresh namespace; their output."""
    namespace: dict[str, object] = {"__name__": "__readme__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in python_blocks():
            if not re.search(r"^def test_", block.code, re.M):
                exec(compile("\n" * (block.line - 1) + block.code, str(README), "exec"), namespace)
    namespace["client"].close()  # type: ignore[attr-defined]
    return out.getvalue()


@pytest.mark.slow
def test_readme_and_examples_rerun_for_the_customer_of_usvc_demo(customer_env: str) -> None:
    """``usvc demo --keep`` hands over a customer with a secret, an enrollment and logs.

    The README and the examples say they run against it, so they run here after the
    demo's own walk-through for the same customer, and the README a second time.
    """
    from rich.console import Console

    import unitysvc
    from unitysvc.cli.demo import _Printer, _walk

    with unitysvc.Client.from_env() as client:
        _walk(_Printer(Console(file=io.StringIO())), client)
    assert "[demo-byok] Hello!" in _run_readme()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        for script in SCRIPTS:
            runpy.run_path(str(script), run_name="__main__")
    assert "reply: [demo-byok] It is my key" in out.getvalue()
    assert "[demo-byok] Hello!" in _run_readme()


@pytest.mark.slow
def test_readme_pytest_block_and_example_tests_pass(tmp_path: Path) -> None:
    test_blocks = [b for b in python_blocks() if re.search(r"^def test_", b.code, re.M)]
    assert test_blocks, "the README shows how to use the pytest fixtures"
    for number, block in enumerate(test_blocks):
        (tmp_path / f"test_readme_block_{number}.py").write_text(block.code)
    for path in TEST_FILES:
        (tmp_path / path.name).write_text(path.read_text())
    env = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            # Plugins the dev extra brings along and these tests do not use (as in
            # pyproject.toml's addopts): each costs the child ~0.5 s of imports.
            *("-p", "no:schemathesis", "-p", "no:anyio", "-p", "no:typeguard"),
            "--rootdir",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected = sum(
        b.code.count("\ndef test_") + b.code.startswith("def test_") for b in test_blocks
    )
    expected += sum(p.read_text().count("\ndef test_") for p in TEST_FILES)
    assert f"{expected} passed" in result.stdout, result.stdout


def _cli_lines() -> list[str]:
    section = "## The command line"
    lines = [
        line.strip()
        for b in fenced_blocks(README)
        if b.heading == section and b.lang == "bash"
        for line in b.code.splitlines()
        if line.strip().startswith("usvc ")
    ]
    assert len(lines) >= 10
    return lines


def test_readme_cli_lines_run(unitysvc_platform: LocalPlatform, customer_env: str) -> None:
    from unitysvc.cli import app

    env: dict[str, str | None] = dict.fromkeys(CLIENT_ENV)
    env.update(
        UNITYSVC_API_URL=unitysvc_platform.api_url,
        UNITYSVC_API_KEY=customer_env,
        NO_COLOR="1",
        COLUMNS="200",
    )
    outputs = {}
    for line in _cli_lines():
        result = CliRunner().invoke(app, shlex.split(line)[1:], env=env, prog_name="usvc")
        assert result.exit_code == 0, (line, result.stdout, result.stderr, result.exception)
        outputs[line] = result.stdout
    assert "[demo-byok] hi" in outputs[next(k for k in outputs if "services dispatch" in k)]
    assert "demo-large" in outputs[next(k for k in outputs if k.startswith("usvc resolve"))]
    assert "DEMO_API_KEY" not in outputs["usvc env"]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_script_runs(
    script: Path, customer_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    for text in EXAMPLE_OUTPUT[script.name]:
        assert text in out, (text, out)


def test_every_example_is_checked_and_listed_in_the_readme() -> None:
    assert {p.name for p in SCRIPTS} == set(EXAMPLE_OUTPUT)
    readme = README.read_text(encoding="utf-8")
    for path in [*SCRIPTS, *TEST_FILES]:
        assert f"(examples/{path.name})" in readme, path.name
