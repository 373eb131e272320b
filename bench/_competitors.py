"""The other gateways ``bench_gateway.py`` runs beside ours: Portkey's and LiteLLM's.

Neither is a project dependency; both are optional columns of the bench, installed into
``bench/`` on request (``bench_gateway.py --install``, or the commands in bench/README.md):

* Portkey's open-source gateway (Node), pinned by ``bench/portkey/package-lock.json`` and
  installed with ``npm ci --ignore-scripts``. The lockfile pins ``@hono/node-server`` to
  1.13.5 (an ``overrides`` entry): Portkey asks for ``^1.3.3``, and from 1.14.2 on that
  package's lightweight ``Response`` keeps the ``Headers`` object of a ``Response`` passed
  as its ``init``; Portkey builds its streamed reply as ``new Response(stream,
  upstreamResponse)`` and then appends headers to it, which throws ``TypeError: immutable``
  (a fetch response's headers are immutable), so a plain ``npm install`` answers every
  ``"stream": true`` request with a 500. 1.13.5 is the version Portkey's own repository
  locks (and patches; the patch is not in the published package and is not needed here).
* LiteLLM's proxy, in its own virtualenv (``bench/litellm/venv``), from the pinned
  ``bench/litellm/requirements.txt``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PORTKEY_DIR = HERE / "portkey"
PORTKEY_ENTRY = PORTKEY_DIR / "node_modules/@portkey-ai/gateway/build/start-server.js"
LITELLM_REQUIREMENTS = HERE / "litellm" / "requirements.txt"
LITELLM_VENV = HERE / "litellm" / "venv"
#: Environment variables naming the executables (when the options are not given).
PORTKEY_ENV = "UNITYSVC_BENCH_PORTKEY"
LITELLM_ENV = "UNITYSVC_BENCH_LITELLM"

_PORTKEY_HINT = (
    f"install it with: npm ci --ignore-scripts --prefix {PORTKEY_DIR.relative_to(HERE.parent)} "
    "(or run the bench with --install)"
)
_LITELLM_HINT = (
    "LiteLLM is not a project dependency; to include it run the bench with --install "
    f"(a virtualenv in {LITELLM_VENV.relative_to(HERE.parent)}), or: python -m venv "
    "~/litellm-venv && ~/litellm-venv/bin/pip install -r "
    f"{LITELLM_REQUIREMENTS.relative_to(HERE.parent)}, then pass --litellm "
    f"~/litellm-venv/bin/litellm or set {LITELLM_ENV}"
)


def _choose(
    option: str | None, flag: str, environ: os._Environ[str] | dict[str, str], variable: str
) -> tuple[str | None, str]:
    """The path given by the option, else by the environment variable; and which it was."""
    if option is not None:
        return option, flag
    if variable in environ:
        return environ[variable], f"${variable}"
    return None, ""


def portkey_entry(
    option: str | None,
    environ: os._Environ[str] | dict[str, str] = os.environ,
    installed: Path = PORTKEY_ENTRY,
) -> tuple[str | None, str]:
    """Portkey's ``start-server.js`` to compare with, or ``None`` and why it is skipped.

    ``--portkey PATH`` wins, then ``$UNITYSVC_BENCH_PORTKEY``, then the copy installed
    in ``bench/portkey`` from the lockfile; ``''`` (either way) skips the column.
    """
    path, source = _choose(option, "--portkey", environ, PORTKEY_ENV)
    if path == "":
        return None, f"Portkey column skipped ({source} is empty)"
    if shutil.which("node", path=environ.get("PATH")) is None:
        return None, "Portkey column skipped: no node on PATH (Node 18 or newer)"
    if path is None:
        if installed.is_file():
            return str(installed), ""
        return None, f"Portkey column skipped: not installed; {_PORTKEY_HINT}"
    if not os.path.isfile(path):
        return None, f"Portkey column skipped: {source} names {path}, not a file"
    return path, ""


def litellm_executable(
    option: str | None,
    environ: os._Environ[str] | dict[str, str] = os.environ,
    installed: Path = LITELLM_VENV / "bin" / "litellm",
) -> tuple[str | None, str]:
    """The LiteLLM executable to compare with, or ``None`` and why the column is skipped.

    ``--litellm PATH`` wins, then ``$UNITYSVC_BENCH_LITELLM``, then the virtualenv that
    ``--install`` makes in ``bench/litellm/venv``, then ``litellm`` on ``PATH``; ``''``
    (either way) skips the column.
    """
    path, source = _choose(option, "--litellm", environ, LITELLM_ENV)
    if path == "":
        return None, f"LiteLLM column skipped ({source} is empty)"
    if path is None:
        if installed.is_file() and os.access(installed, os.X_OK):
            return str(installed), ""
        found = shutil.which("litellm", path=environ.get("PATH"))
        if found is None:
            return None, f"LiteLLM column skipped: no litellm on PATH. {_LITELLM_HINT}"
        return found, ""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return None, f"LiteLLM column skipped: {source} names {path}, not an executable"
    return path, ""


def install_portkey() -> None:
    """``npm ci`` the pinned Portkey gateway into ``bench/portkey/node_modules``.

    ``--ignore-scripts``: its only install script runs ``patch-package``, whose patches
    are not in the published package.
    """
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed to install the Portkey gateway (Node 18 or newer)")
    print(f"installing Portkey's gateway into {PORTKEY_DIR} (npm ci) ...", file=sys.stderr)
    subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=PORTKEY_DIR,
        check=True,
    )


def install_litellm() -> None:
    """Create ``bench/litellm/venv`` and install the pinned LiteLLM proxy into it."""
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {LITELLM_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    print(f"installing LiteLLM into {LITELLM_VENV} (pip) ...", file=sys.stderr)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(LITELLM_REQUIREMENTS)], check=True
    )


def portkey_version(entry: str) -> str:
    """The version in the ``package.json`` above ``build/start-server.js``."""
    manifest = Path(entry).resolve().parent.parent / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "?"


def litellm_version(executable: str) -> str:
    """The installed ``litellm`` distribution's version, asked of the executable's Python."""
    python = Path(executable).parent / "python"
    if not python.exists():
        return "?"
    out = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "?"
