"""Regenerate the single initial Alembic migration from the ORM metadata.

Nothing is released yet, so the schema lives in ONE migration,
``0001_initial``. Run this after changing any table under
``src/unitysvc_server/storage/tables/``::

    python scripts/regen_migration.py

It deletes the old revision, autogenerates a new one against a fresh, empty
SQLite database, and ruff-formats it. ``tests/unitysvc_server/storage/
test_migrations.py`` fails while the migration and the metadata disagree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from unitysvc_server.storage.db import MIGRATIONS_DIR, alembic_config

REVISION = "0001"
VERSIONS = MIGRATIONS_DIR / "versions"


def main() -> int:
    """Regenerate the migration; return the process exit code."""
    for old in VERSIONS.glob("*.py"):
        old.unlink()
    shutil.rmtree(VERSIONS / "__pycache__", ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'empty.db'}"
        command.revision(
            alembic_config(url),
            message="initial",
            autogenerate=True,
            rev_id=REVISION,
        )
    generated = sorted(VERSIONS.glob("*.py"))
    if len(generated) != 1:
        print(f"expected one migration, found {generated}", file=sys.stderr)
        return 1
    target = VERSIONS / f"{REVISION}_initial.py"
    generated[0].rename(target)
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "format", "--quiet", str(target)], check=True)
    subprocess.run([*ruff, "check", "--fix", "--quiet", str(target)], check=True)
    print(
        f"wrote {target.relative_to(Path.cwd()) if target.is_relative_to(Path.cwd()) else target}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
