"""``/v1/services/{id}``: detail, interfaces, documents, access plan, membership (over HTTP)."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from unitysvc_server.testing import LocalPlatform

GROQ = Path(__file__).parents[1] / "data" / "catalogs" / "groq"
LLAMA = "18a68d4c-6a98-4e75-9bba-1a3cc0696b57"


@pytest.fixture(scope="module")
def platform_options() -> dict[str, Any]:
    return {"demo": True, "catalogs": [GROQ]}


@pytest.fixture(scope="module")
def ids(platform: LocalPlatform) -> dict[str, str]:
    with platform.http() as anon:
        data = anon.get("groups/all_services/services", params={"limit": 200}).json()["data"]
    return {s["name"]: s["id"] for s in data}


def test_detail_by_id_and_unique_prefix(anonymous_api: httpx.Client, ids: dict[str, str]) -> None:
    r = anonymous_api.get(f"services/{LLAMA}")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "groq/llama-3.1-8b-instant"
    assert body["provider_name"] == "groq" and body["gateway_type"] == "api"
    assert body["list_price"]["type"] == "one_million_tokens"
    assert body["tags"] == ["ai", "gateway", "byok"]
    assert body["channel_types"] == ["byok"] and body["enrollment_channel"] == "Groq-API"
    assert anonymous_api.get(f"services/{LLAMA[:8]}").json()["id"] == LLAMA
    assert anonymous_api.get(f"services/{LLAMA.upper()}").json()["id"] == LLAMA


def test_unknown_and_ambiguous_ids_are_404(
    anonymous_api: httpx.Client, ids: dict[str, str]
) -> None:
    first_chars = Counter(sid[0] for sid in ids.values())
    shared = next(ch for ch, n in first_chars.items() if n > 1)
    ambiguous = anonymous_api.get(f"services/{shared}")
    assert ambiguous.status_code == 404 and "matches" in ambiguous.json()["detail"]
    assert anonymous_api.get(f"services/{uuid.uuid4()}").status_code == 404
    assert anonymous_api.get("services/not-a-uuid!").status_code == 404
    assert anonymous_api.get(f"services/{uuid.uuid4()}/usage").status_code == 404


def test_detail_etag_answers_304(anonymous_api: httpx.Client, ids: dict[str, str]) -> None:
    r = anonymous_api.get(f"services/{ids['echo']}")
    etag = r.headers["etag"]
    assert r.headers["cache-control"] == "no-cache"
    again = anonymous_api.get(f"services/{ids['echo']}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = anonymous_api.get(f"services/{ids['demo-small']}", headers={"If-None-Match": etag})
    assert other.status_code == 200


def test_interfaces_render_gateway_urls(
    platform: LocalPlatform, anonymous_api: httpx.Client, ids: dict[str, str]
) -> None:
    small = anonymous_api.get(f"services/{ids['demo-small']}/interfaces").json()
    assert small[0] == {
        "name": "canonical",
        "description": None,
        "access_method": "http",
        "base_url": f"{platform.gateway_url}/demo-small/v1",
        "group_name": None,
        "enrollment_id": None,
    }
    assert [i["group_name"] for i in small[1:]] == ["llm"]
    assert small[1]["base_url"] == f"{platform.gateway_url}/g/llm/v1"
    groq = anonymous_api.get(f"services/{LLAMA}/interfaces").json()
    assert [(i["name"], i["base_url"]) for i in groq] == [
        ("provider_api", f"{platform.gateway_url}/p/groq")
    ]
    # enrollment services are reached only through /e/<code>
    assert anonymous_api.get(f"services/{ids['demo-byoe']}/interfaces").json() == []


def test_documents_list_filter_and_render(
    platform: LocalPlatform, anonymous_api: httpx.Client, ids: dict[str, str]
) -> None:
    url = f"services/{ids['demo-small']}/documents"
    listed = anonymous_api.get(url).json()
    assert listed["interface"] == "canonical" and listed["available_interfaces"] == ["canonical"]
    assert {d["title"] for d in listed["documents"]} == {
        "Quickstart",
        "Python code example",
        "cURL code example",
    }
    assert all(d["content"] is None for d in listed["documents"])
    python = anonymous_api.get(
        url, params={"category": "code_example", "mime_type": "python", "include_content": True}
    ).json()["documents"]
    assert len(python) == 1
    assert python[0]["filename"] == "chat_openai.py"
    assert f'base_url="{platform.gateway_url}/demo-small/v1"' in python[0]["content"]
    assert 'model="demo-small"' in python[0]["content"]
    assert python[0]["render_error"] is None
    one = anonymous_api.get(f"{url}/{python[0]['id']}").json()
    assert one["documents"][0]["content"] == python[0]["content"]
    assert anonymous_api.get(f"{url}/{uuid.uuid4()}").status_code == 404
    assert anonymous_api.get(url, params={"interface": "nope"}).status_code == 404
    assert anonymous_api.get(url, params={"category": "nonsense"}).status_code == 422


def test_groq_preset_documents_render_against_p_groq(
    platform: LocalPlatform, anonymous_api: httpx.Client
) -> None:
    docs = anonymous_api.get(
        f"services/{LLAMA}/documents", params={"include_content": True}
    ).json()["documents"]
    titles = {d["title"] for d in docs}
    assert "Python code example" in titles and "Connectivity test" not in titles  # not public
    python = next(d for d in docs if d["title"] == "Python code example")
    assert python["render_error"] is None
    assert f"{platform.gateway_url}/p/groq" in python["content"]
    assert "llama-3.1-8b-instant" in python["content"]


def test_access_plans(anonymous_api: httpx.Client, ids: dict[str, str]) -> None:
    small = anonymous_api.get(f"services/{ids['demo-small']}/usage").json()
    assert small["enrollment_mode"] == "disallowed" and small["parameters"] == []
    assert small["channels"] == [
        {
            "name": "managed",
            "channel_type": "managed",
            "free": False,
            "price_description": None,
            "price": "0.18",
            "currency": "USD",
            "requires_enrollment": False,
            "required_secrets": [],
            "optional_secrets": [],
            "description": None,
            "default": True,
            "selector": None,
            "applicable_interfaces": ["canonical"],
            "request_formats": None,
        }
    ]
    assert small["gateway_type"] == "api" and small["input_formats"] is None
    assert small["interfaces"][0]["base_url"].endswith("/demo-small/v1")
    endpoints = {e["base_url"].rsplit("/", 2)[-2:][0]: e for e in small["routing_endpoints"]}
    assert endpoints["llm"]["routing_key"] == {"model": "demo-small"}
    assert endpoints["llm"]["routing_key_required"] is False

    byok = anonymous_api.get(f"services/{ids['demo-byok']}/usage").json()
    assert byok["channels"][0]["channel_type"] == "byok"
    assert byok["channels"][0]["required_secrets"] == [
        {"name": "DEMO_API_KEY", "description": None, "default": None}
    ]
    assert byok["channels"][0]["free"] is True

    byoe = anonymous_api.get(f"services/{ids['demo-byoe']}/usage").json()
    assert byoe["enrollment_mode"] == "required" and byoe["interfaces"] == []
    params = {p["name"]: p for p in byoe["parameters"]}
    assert params["base_url"]["required"] is True
    assert params["api_key_secret"]["required"] is False
    assert params["api_key_secret"]["names_secret"] is True

    groq = anonymous_api.get(f"services/{LLAMA}/usage").json()
    assert "0.05 / $0.08" in groq["channels"][0]["price_description"]


def test_membership_dropdown_and_favorites(api: httpx.Client, ids: dict[str, str]) -> None:
    sid = ids["demo-medium"]
    first = api.get(f"services/{sid}/groups").json()
    assert first["eligible"] is True and first["service_id"] == sid
    assert first["groups"][0] == {
        "id": None,
        "name": "favorites",
        "display_name": "Favorites",
        "member": False,
        "is_default": True,
    }
    mine = api.post("groups", json={"name": "membership-test"}).json()["id"]
    r = api.put(f"services/{sid}/groups", json={"group_ids": [mine], "include_default": True})
    assert r.status_code == 200
    flags = {g["name"]: g["member"] for g in r.json()["groups"]}
    assert flags == {"favorites": True, "membership-test": True}
    favorites_id = r.json()["groups"][0]["id"]
    assert favorites_id is not None
    assert api.get(f"groups/{favorites_id}/members").json()[0]["service_id"] == sid
    # diff semantics: unchecked groups lose the service
    r = api.put(f"services/{sid}/groups", json={"group_ids": [], "include_default": False})
    flags = {g["name"]: g["member"] for g in r.json()["groups"]}
    assert flags == {"favorites": False, "membership-test": False}
    assert r.json()["groups"][0]["id"] == favorites_id


def test_membership_refusals(
    api: httpx.Client, other_api: httpx.Client, anonymous_api: httpx.Client, ids: dict[str, str]
) -> None:
    byoe = ids["demo-byoe"]
    assert api.get(f"services/{byoe}/groups").json()["eligible"] is False
    assert api.put(f"services/{byoe}/groups", json={"group_ids": []}).status_code == 403
    theirs = other_api.post("groups", json={"name": "theirs"}).json()["id"]
    r = api.put(f"services/{ids['echo']}/groups", json={"group_ids": [theirs]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "group_ids", 0]
    assert anonymous_api.get(f"services/{ids['echo']}/groups").status_code == 401
