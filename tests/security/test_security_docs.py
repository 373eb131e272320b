"""The README's Security section and the code agree (finding 9: docs drift).

Every guarantee in the section names the test module that keeps it true; those modules
exist, and every module of this suite is named. Every setting in its table is an option
of ``usvc server start``. The rate-limit sentence that drifted (it said "per process"
while ``--redis-url`` shares the bucket, as ``test_two_servers_share_one_bucket`` in the
gateway tests shows) stays fixed.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from unitysvc_server.cli import server_app

ROOT = Path(__file__).resolve().parents[2]
SUITE = Path(__file__).parent


def _section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Security")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def test_every_guarantee_names_a_test_module_of_this_suite_and_every_module_is_named() -> None:
    named = set(re.findall(r"`(test_\w+\.py)`", _section()))
    modules = {p.name for p in SUITE.glob("test_*.py")} - {Path(__file__).name}
    assert named <= modules, named - modules
    assert modules <= named, modules - named


def test_every_setting_in_the_table_is_a_start_option() -> None:
    start = typer.main.get_command(server_app).commands["start"]  # type: ignore[attr-defined]
    declared = {name for param in start.params for name in (*param.opts, *param.secondary_opts)}
    options = set(re.findall(r"`(--[a-z-]+)", _section()))
    assert {"--allow-private-upstreams", "--max-connections", "--admin-token"} <= options
    assert options <= declared, options - declared


def test_the_readme_no_longer_says_rate_limits_are_per_process() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "Rate limits are per process" not in readme
    assert "one rate-limit\nbucket per customer for all of them" in readme
