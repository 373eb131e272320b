"""What the contract tests share: the official releases they drive, the scenario runner type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: The releases driven here: the current one and the one before its API change.
VERSIONS = ("0.2.1", "0.1.22")

#: ``run_scenario(version, name, key, **inputs) -> observations`` (see ``conftest.py``).
Scenario = Callable[..., dict[str, Any]]
