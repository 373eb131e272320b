"""Shared fixtures for the SDK tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _servers import ScriptedServer


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A scriptable HTTP/1.1 server on 127.0.0.1 (see ``tests/unitysvc/_servers.py``).

    Stopped after the test; an internal error of the server fails the test there.
    """
    with ScriptedServer() as server:
        yield server
