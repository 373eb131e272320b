"""Fixtures for ``usvc mcp``: the real command as a subprocess, driven over stdio by the
official ``mcp`` client session (:mod:`_mcp_session`), against a real
:class:`LocalPlatform` on 127.0.0.1: one platform and one ``usvc mcp`` per module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _mcp_session import McpSession

if TYPE_CHECKING:
    from unitysvc_server.testing import LocalPlatform


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    from unitysvc_server.testing import LocalPlatform

    with LocalPlatform(demo=True) as running:
        yield running


@pytest.fixture(scope="module")
def api_key(platform: LocalPlatform, request: pytest.FixtureRequest) -> str:
    return platform.create_customer(f"mcp-{request.module.__name__}")


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``usvc mcp`` subprocess's stderr (written while the module runs)."""
    return tmp_path_factory.mktemp("mcp") / "stderr.log"


@pytest.fixture(scope="module")
def agent(platform: LocalPlatform, api_key: str, server_log: Path) -> Iterator[McpSession]:
    """``usvc --debug mcp`` over stdio for the module's customer (key from the environment).

    ``--debug`` logs every SDK request on stderr, so the key checks see the most the
    server ever writes. When the module ends, neither its answers nor that log may
    contain the key.
    """
    env = {"UNITYSVC_API_KEY": api_key, "UNITYSVC_API_URL": platform.api_url}
    with server_log.open("w") as errlog:
        session = McpSession(["--debug", "mcp"], env, errlog).start()
        try:
            yield session
        finally:
            session.close()
    assert session.transcript, "the module called no tool"
    assert not [text for text in session.transcript if api_key in text]
    assert api_key not in server_log.read_text()
