"""Test your own code against a real platform with the ``unitysvc_platform`` fixture.

Installing ``unitysvc[server]`` registers the fixtures with pytest; there is no conftest
to write. Run it with::

    pytest examples/test_with_local_platform.py
"""

from __future__ import annotations

from collections.abc import Callable

import unitysvc
from unitysvc_server.testing import LocalPlatform


def cheapest_model(client: unitysvc.Client) -> str:
    """The code under test: the name of the lowest-priced member of ``llm``."""
    plan = client.resolve(path="g/llm/chat/completions", strategy="by_price")
    if plan.selected is not None:
        return str(plan.selected.service_name)
    return str(plan.candidates[0].service_name)


def summarise(client: unitysvc.Client, text: str) -> str:
    """More code under test: a call through the gateway."""
    body = {"model": "demo-small", "messages": [{"role": "user", "content": text}]}
    response = client.groups.get("llm").dispatch(path="chat/completions", json=body)
    response.raise_for_status()
    return str(response.json()["choices"][0]["message"]["content"])


def test_cheapest_model_is_demo_small(
    unitysvc_platform: LocalPlatform, unitysvc_api_key: str
) -> None:
    with unitysvc_platform.client(unitysvc_api_key) as client:
        assert cheapest_model(client) == "demo-small"


def test_summarise_goes_through_the_gateway(
    unitysvc_platform: LocalPlatform, unitysvc_api_key: str
) -> None:
    with unitysvc_platform.client(unitysvc_api_key) as client:
        assert summarise(client, "short text") == "[demo-small] short text"


def test_customers_are_isolated(
    unitysvc_platform: LocalPlatform, unitysvc_customer: Callable[..., str]
) -> None:
    alice, bob = unitysvc_customer("alice"), unitysvc_customer("bob")
    with unitysvc_platform.client(alice) as client:
        client.secrets.set("TOKEN", "alice-only")
    with unitysvc_platform.client(bob) as client:
        assert client.secrets.list().count == 0
