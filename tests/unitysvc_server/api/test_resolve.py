"""``POST /v1/resolve``: dry-run routing for every address kind (over HTTP)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from unitysvc_server.testing import LocalPlatform

GROQ = Path(__file__).parents[1] / "data" / "catalogs" / "groq"
LLAMA = "18a68d4c-6a98-4e75-9bba-1a3cc0696b57"


def _twin_catalog(root: Path) -> Path:
    """Two services declaring the same path and no routing key: ambiguous."""
    (root / "provider.json").write_text(
        json.dumps(
            {
                "name": "twins",
                "contact_email": "ops@twins.example",
                "homepage": "https://twins.example/",
                "time_created": "2026-01-01T00:00:00Z",
            }
        )
    )
    for name in ("left", "right"):
        folder = root / "services" / name
        folder.mkdir(parents=True)
        (folder / "offering.json").write_text(
            json.dumps(
                {
                    "name": name,
                    "summary": name,
                    "description": name,
                    "time_created": "2026-01-01T00:00:00Z",
                    "upstream_access_config": {"managed": {"base_url": "http://127.0.0.1:9"}},
                }
            )
        )
        (folder / "listing.json").write_text(
            json.dumps(
                {
                    "name": f"twins/{name}",
                    "status": "ready",
                    "time_created": "2026-01-01T00:00:00Z",
                    "user_access_interfaces": {
                        "canonical": {"base_url": "${API_GATEWAY_BASE_URL}/twins"}
                    },
                }
            )
        )
    return root


@pytest.fixture(scope="module")
def platform_options(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    twins = _twin_catalog(tmp_path_factory.mktemp("twins"))
    return {"demo": True, "catalogs": [GROQ, twins]}


@pytest.fixture(scope="module")
def ids(platform: LocalPlatform) -> dict[str, str]:
    with platform.http() as anon:
        data = anon.get("groups/all_services/services", params={"limit": 200}).json()["data"]
    return {s["name"]: s["id"] for s in data}


def resolve(api: httpx.Client, path: str, **extra: Any) -> httpx.Response:
    return api.post("resolve", json={"path": path, **extra})


def names(candidates: list[dict[str, Any]]) -> list[str]:
    return [c["service_name"] for c in candidates]


def test_group_default_is_content_dependent_without_preselection(api: httpx.Client) -> None:
    r = resolve(api, "g/llm/v1/chat/completions")
    assert r.status_code == 200
    body = r.json()
    assert body["routing_strategy"] == {"name": "weighted_random", "content_dependent": True}
    assert body["selected"] is None
    weights = {c["service_name"]: c["weight"] for c in body["candidates"]}
    assert weights == {"demo-small": 50, "demo-medium": 30, "demo-large": 20}
    # A routing key that narrows the members makes the choice: it is pre-selected.
    keyed = resolve(api, "g/llm", routing_key={"model": "demo-large"}).json()
    assert names(keyed["candidates"]) == ["demo-large"]
    assert keyed["selected"]["service_name"] == "demo-large"
    # A key no member declares narrows nothing: the body still decides.
    unknown = resolve(api, "g/llm", routing_key={"model": "nope"}).json()
    assert len(unknown["candidates"]) == 3 and unknown["selected"] is None


def test_by_price_override_preselects_the_cheapest(api: httpx.Client) -> None:
    for _ in range(3):
        body = resolve(api, "g/llm/v1/chat/completions", strategy="by_price").json()
        assert body["routing_strategy"] == {"name": "by_price", "content_dependent": False}
        assert names(body["candidates"]) == ["demo-small", "demo-medium", "demo-large"]
        assert body["selected"]["service_name"] == "demo-small"
        assert set(body["selected"]) == {
            "service_id",
            "service_name",
            "provider_name",
            "weight",
            "enrollment_id",
        }


def test_unknown_strategy_and_gateway_are_422(api: httpx.Client) -> None:
    r = resolve(api, "g/llm", strategy="cheapest")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "strategy"]
    r = resolve(api, "g/llm", gateway="s3")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "gateway"]


def test_listing_paths_and_service_ids(api: httpx.Client, ids: dict[str, str]) -> None:
    body = resolve(api, "demo-small/v1/chat/completions").json()
    assert names(body["candidates"]) == ["demo-small"]
    assert body["routing_strategy"] is None
    assert body["selected"]["service_id"] == ids["demo-small"]
    by_id = resolve(api, f"p/{ids['echo']}/anything").json()
    assert by_id["selected"]["service_name"] == "echo"
    groq = resolve(api, "p/groq/v1/chat/completions", routing_key={"model": "llama-3.1-8b-instant"})
    assert groq.json()["selected"]["service_id"] == LLAMA
    # an absolute gateway URL (what SDK schedules store) resolves by its path
    absolute = resolve(api, "http://example.test/demo-large/v1/chat/completions").json()
    assert absolute["selected"]["service_name"] == "demo-large"


def test_no_route_is_404_naming_what_was_tried(api: httpx.Client) -> None:
    r = resolve(api, "p/groq/v1/chat/completions", routing_key={"model": "gpt-9"})
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert "/p/groq" in detail and "llama-3.1-8b-instant" in detail
    assert resolve(api, "nothing/here").status_code == 404
    assert resolve(api, "g/nope").status_code == 404
    assert resolve(api, "d/g/llm").status_code == 400


def test_ambiguous_path_lists_every_candidate(api: httpx.Client) -> None:
    body = resolve(api, "twins/x").json()
    assert sorted(names(body["candidates"])) == ["twins/left", "twins/right"]
    assert body["selected"] is None
    override = resolve(api, "twins/x", strategy="by_price").json()
    assert override["selected"]["service_name"] in {"twins/left", "twins/right"}


def test_enrollment_alias_chain_broadcast_and_collection(
    api: httpx.Client, other_api: httpx.Client, ids: dict[str, str]
) -> None:
    ack = api.post(
        "enrollments/",
        json={"service_id": ids["demo-byoe"], "parameters": {"base_url": "http://127.0.0.1:9"}},
    ).json()
    deadline = time.monotonic() + 10
    while (enr := api.get(f"enrollments/{ack['id']}").json())["status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert enr["status"] == "active"
    body = resolve(api, f"e/{enr['code']}/v1/chat/completions").json()
    assert body["selected"]["enrollment_id"] == ack["id"]
    assert resolve(other_api, f"e/{enr['code']}").status_code == 404

    alias = api.post(
        "aliases/",
        json={
            "name": "fast",
            "target_path": "g/llm",
            "routing_key_override": {"model": "demo-medium"},
        },
    )
    assert alias.status_code == 201, alias.text
    assert names(resolve(api, "a/fast/v1/chat/completions").json()["candidates"]) == ["demo-medium"]
    assert resolve(other_api, "a/fast").status_code == 404

    chain = api.post(
        "chains/",
        json={
            "name": "fallback",
            "steps": [
                {"name": "one", "target_path": "demo-down/v1", "sort_order": 0},
                {"name": "two", "target_path": "demo-small/v1", "sort_order": 1},
            ],
        },
    )
    assert chain.status_code == 201, chain.text
    chained = resolve(api, "c/fallback").json()
    assert names(chained["candidates"]) == ["demo-down", "demo-small"]
    assert chained["selected"]["service_name"] == "demo-down"

    fan = api.post(
        "broadcasts/",
        json={
            "name": "both",
            "targets": [
                {"name": "a", "target_path": "echo"},
                {"name": "b", "target_path": "demo-large/v1"},
            ],
        },
    )
    assert fan.status_code == 201, fan.text
    fanned = resolve(api, "b/both").json()
    assert sorted(names(fanned["candidates"])) == ["demo-large", "echo"]
    assert fanned["selected"] is None

    cid = api.post("groups", json={"name": "picks"}).json()["id"]
    api.post(
        f"groups/{cid}/members",
        json={"service_id": ids["demo-large"], "routing_key": {"model": "big"}},
    )
    picked = resolve(api, "g/picks", routing_key={"model": "big"}).json()
    assert names(picked["candidates"]) == ["demo-large"]
    missing = resolve(api, "g/picks", routing_key={"model": "small"})
    assert missing.status_code == 404 and '{"model": "big"}' in missing.json()["detail"]
    assert resolve(other_api, "g/picks").status_code == 404


def test_anonymous_resolve_is_401(anonymous_api: httpx.Client) -> None:
    assert resolve(anonymous_api, "g/llm").status_code == 401


def test_sdk_resolve(platform: LocalPlatform, customer_key: str) -> None:
    with platform.client(customer_key) as client:
        result = client.resolve(path="g/llm", strategy="by_price")
        assert result.selected is not None
        assert result.selected.service_name == "demo-small"
