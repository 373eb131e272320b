"""The catalog component inside a running platform: groups file, empty catalog, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from unitysvc_server.app import create_app
from unitysvc_server.catalog.groups import GroupsFileError
from unitysvc_server.config import Settings
from unitysvc_server.routing.selection import LatencyTracker
from unitysvc_server.testing import LocalPlatform

GROQ = Path(__file__).parents[1] / "data" / "catalogs" / "groq"

GROUPS = """
[[group]]
name = "groq-chat"
display_name = "Groq chat"
routing_policy = { name = "by_price" }
interface = { base_url = "${API_GATEWAY_BASE_URL}/g/groq-chat" }

[group.match]
provider_name = "groq"
"""


def test_groups_file_and_seller_catalog(tmp_path: Path) -> None:
    groups_file = tmp_path / "groups.toml"
    groups_file.write_text(GROUPS)
    with LocalPlatform(catalogs=[GROQ], groups_file=groups_file) as platform:
        assert isinstance(platform.app.runtime.latency, LatencyTracker)
        with platform.http() as anon:
            groups = anon.get("groups").json()["data"]
            assert [(g["name"], g["member_count"]) for g in groups] == [
                ("all_services", 16),
                ("groq-chat", 16),
            ]
            detail = anon.get("groups/groq-chat").json()
            assert detail["routing_policy"] == {"name": "by_price", "content_dependent": False}
            assert detail["interface"]["base_url"] == f"{platform.gateway_url}/g/groq-chat"


def test_empty_platform_still_has_all_services() -> None:
    with LocalPlatform() as platform, platform.http() as anon:
        body = anon.get("groups").json()
        assert [(g["name"], g["member_count"]) for g in body["data"]] == [("all_services", 0)]
        page = anon.get("groups/all_services/services").json()
        assert page == {"data": [], "next_cursor": None, "has_more": False}


async def test_invalid_groups_file_stops_the_start(tmp_path: Path) -> None:
    bad = tmp_path / "groups.toml"
    bad.write_text('[[group]]\nname = "x1"\n[[group.members]]\nservice = "missing"\n')
    app = create_app(Settings(data_dir=tmp_path / "data", groups_file=bad, port=0, demo=True))
    with pytest.raises(GroupsFileError, match="no service 'missing'"):
        await app.runtime.start()
    assert app.runtime.catalog is None
    # the demo upstreams it had started are stopped again
    assert app.runtime.demo_upstreams is None
