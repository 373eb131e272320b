"""Install the official ``unitysvc-py`` releases the contract tests drive our platform with.

The official SDK is distributed as ``unitysvc-py`` and imports as ``unitysvc`` -- the same
name as ours -- so it cannot live in this project's environment. Each version goes into its
own directory with ``pip install --target``; a test runs the official SDK in a subprocess
whose ``PYTHONPATH`` is that directory::

    python scripts/install_official_sdks.py               # every version the tests use
    python scripts/install_official_sdks.py 0.2.1         # one version
    python scripts/install_official_sdks.py --root DIR    # somewhere else

The default root is ``<repo>/.cache/official-sdks`` (git-ignored). A version already
installed is skipped, so running it again costs nothing. Installation goes to a temporary
directory that is renamed into place at the end: an interrupted run leaves nothing
half-installed. Several processes (the test session and its pytest-xdist workers) may run
it at once: they take turns on a lock file, so the first installs and the others find the
versions installed instead of each installing them again. Missing versions are installed
side by side (one pip each). The last line printed for each version is
``<version> <directory>``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TARGET_ROOT = ROOT / ".cache" / "official-sdks"
#: The releases the contract tests run: the current one and the one before the API change.
VERSIONS = ("0.2.1", "0.1.22")
DISTRIBUTION = "unitysvc-py"


def installed_dir(root: Path, version: str) -> Path:
    """Where ``version`` is (or will be) installed under ``root``."""
    return root / version


def is_installed(root: Path, version: str) -> bool:
    """Whether ``version`` is completely installed under ``root``."""
    marker = installed_dir(root, version) / f"unitysvc_py-{version}.dist-info"
    return marker.is_dir() and (installed_dir(root, version) / "unitysvc" / "__init__.py").is_file()


def install(root: Path, version: str) -> Path:
    """Install ``unitysvc-py==version`` (with its dependencies) under ``root``; idempotent.

    Raises:
        RuntimeError: pip failed (its output is in the message).
    """
    target = installed_dir(root, version)
    if is_installed(root, version):
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--target",
                str(staging),
                f"{DISTRIBUTION}=={version}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"pip could not install {DISTRIBUTION}=={version} (is PyPI reachable?):\n"
                f"{done.stdout}{done.stderr}"
            )
        try:
            os.rename(staging, target)
        except OSError:
            # Another process finished first (or an old partial directory is in the way).
            if not is_installed(root, version):
                shutil.rmtree(target, ignore_errors=True)
                os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@contextlib.contextmanager
def _turn(root: Path) -> Iterator[None]:
    """Hold ``root``'s install lock: one process installs, the others wait for it."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def install_all(root: Path, versions: list[str]) -> list[Path]:
    """Install each of ``versions`` under ``root`` (those missing at once, side by side).

    Raises:
        RuntimeError: pip failed for one of them.
    """
    if all(is_installed(root, version) for version in versions):
        return [installed_dir(root, version) for version in versions]
    with _turn(root), ThreadPoolExecutor(max_workers=len(versions)) as pool:
        return list(pool.map(lambda version: install(root, version), versions))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", default=list(VERSIONS), help="releases to install")
    parser.add_argument(
        "--root", type=Path, default=DEFAULT_TARGET_ROOT, help="directory of the installs"
    )
    args = parser.parse_args(argv)
    try:
        places = install_all(args.root, args.versions)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    for version, where in zip(args.versions, places, strict=True):
        print(f"{version} {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
