"""The demo catalog end to end: the OpenAI SDK against the platform's own interfaces."""

from __future__ import annotations

from types import ModuleType

import httpx
import pytest

from unitysvc_server.demo.upstreams import DEMO_BYOK_KEY
from unitysvc_server.testing import LocalPlatform


@pytest.fixture(scope="module")
def openai() -> ModuleType:
    """The OpenAI SDK, imported when a test runs: every pytest-xdist worker collects this
    module, one runs it."""
    import openai

    return openai


@pytest.fixture(scope="module")
def interfaces(platform: LocalPlatform) -> dict[str, str]:
    """Interface base URLs by service name (plus ``llm`` for the group)."""
    out: dict[str, str] = {}
    with platform.http() as anon:
        out["llm"] = anon.get("groups/llm").json()["interface"]["base_url"]
        for svc in anon.get("groups/all_services/services").json()["data"]:
            found = anon.get(f"services/{svc['id']}/interfaces").json()
            if found:
                out[svc["name"]] = found[0]["base_url"]
    return out


def test_openai_sdk_works_unchanged_against_the_llm_group(
    openai: ModuleType, interfaces: dict[str, str], customer_key: str
) -> None:
    assert interfaces["llm"].endswith("/g/llm/v1")
    with openai.OpenAI(base_url=interfaces["llm"], api_key=customer_key) as client:
        reply = client.chat.completions.create(
            model="demo-large", messages=[{"role": "user", "content": "hello big model"}]
        )
        assert reply.choices[0].message.content == "[demo-large] hello big model"
        assert reply.usage is not None and reply.usage.completion_tokens == 4
        stream = client.chat.completions.create(
            model="demo-medium",
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
        )
        words = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta]
    assert [w for w in words if w] == ["[demo-medium]", " one", " two", " three"]


def test_each_member_interface_is_openai_compatible(
    openai: ModuleType, interfaces: dict[str, str], customer_key: str
) -> None:
    for name in ("demo-small", "demo-medium", "demo-large"):
        assert interfaces[name].endswith(f"/{name}/v1")
        with openai.OpenAI(base_url=interfaces[name], api_key=customer_key) as client:
            reply = client.chat.completions.create(
                model=name, messages=[{"role": "user", "content": "ping"}]
            )
        assert reply.choices[0].message.content == f"[{name}] ping"


def test_byok_needs_the_customer_secret(
    platform: LocalPlatform, interfaces: dict[str, str], customer_key: str
) -> None:
    url = f"{interfaces['demo-byok']}/chat/completions"
    body = {"model": "demo-byok", "messages": [{"role": "user", "content": "hi"}]}
    auth = {"Authorization": f"Bearer {customer_key}"}
    with platform.http(customer_key) as api:
        assert api.put("secrets/DEMO_API_KEY", json={"value": "wrong-key"}).status_code in (
            200,
            201,
        )
        wrong = httpx.post(url, json=body, headers=auth)
        assert wrong.status_code == 401  # the upstream refuses the key
        api.put("secrets/DEMO_API_KEY", json={"value": DEMO_BYOK_KEY})
        right = httpx.post(url, json=body, headers=auth)
        assert right.status_code == 200
        assert right.json()["choices"][0]["message"]["content"] == "[demo-byok] hi"
        api.delete("secrets/DEMO_API_KEY")


def test_down_and_echo(interfaces: dict[str, str], customer_key: str) -> None:
    auth = {"Authorization": f"Bearer {customer_key}"}
    down = httpx.post(f"{interfaces['demo-down']}/chat/completions", json={}, headers=auth)
    assert down.status_code == 503
    echo = httpx.post(f"{interfaces['echo']}/some/path?q=1", json={"k": "v"}, headers=auth)
    assert echo.status_code == 200
    body = echo.json()
    assert body["path"] == "/some/path" and body["query"] == "q=1" and body["body"] == {"k": "v"}
    assert customer_key not in str(body)
