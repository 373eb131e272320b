"""Pure units of channel rendering: Jinja variables, secret references, refusals."""

from __future__ import annotations

import pytest

from unitysvc_server.catalog.model import UpstreamChannel, render_gateway_url
from unitysvc_server.catalog.render import (
    MissingSecret,
    RenderContext,
    RenderError,
    render_channel,
    resolve_references,
    secret_references,
)

SECRETS = {("customer_secrets", "GROQ_API_KEY"): "gsk-123", ("secrets", "SELLER"): "s-9"}


async def lookup(namespace: str, name: str) -> str | None:
    return SECRETS.get((namespace, name))


def channel(config: dict[str, object], name: str = "c") -> UpstreamChannel:
    return UpstreamChannel.from_config(name, config)


async def test_byok_channel_resolves_the_customer_secret() -> None:
    ch = channel(
        {
            "base_url": "https://api.groq.com/openai",
            "api_key": "${ customer_secrets.GROQ_API_KEY }",
            "routing_key": {"model": "llama"},
        }
    )
    out = await render_channel(ch, RenderContext(service_name="groq/llama"), lookup)
    assert out == {
        "base_url": "https://api.groq.com/openai",
        "api_key": "gsk-123",
        "routing_key": {"model": "llama"},
    }


async def test_byoe_channel_picks_the_secret_by_parameter() -> None:
    ch = channel(
        {
            "base_url": "{{ params.base_url }}/{{ enrollment.code }}",
            "api_key": "${ customer_secrets.{{ params.api_key_secret }} }",
            "headers": {"X-Svc": "{{ service_name }}", "X-Region": "{{ routing_vars.region }}"},
        }
    )
    assert ch.kind == "byoe"
    context = RenderContext(
        service_name="demo-byoe",
        params={"base_url": "http://10.0.0.1:8080", "api_key_secret": "GROQ_API_KEY"},
        enrollment={"code": "AB12"},
        routing_vars={"region": "eu"},
    )
    out = await render_channel(ch, context, lookup)
    assert out["base_url"] == "http://10.0.0.1:8080/AB12"
    assert out["api_key"] == "gsk-123"
    assert out["headers"] == {"X-Svc": "demo-byoe", "X-Region": "eu"}


async def test_missing_customer_secret_names_it() -> None:
    ch = channel({"base_url": "u", "api_key": "${ customer_secrets.DEMO_API_KEY }"})
    with pytest.raises(MissingSecret) as caught:
        await render_channel(ch, RenderContext(service_name="s"), lookup)
    assert caught.value.name == "DEMO_API_KEY"
    assert caught.value.namespace == "customer_secrets"
    assert "PUT /v1/secrets/DEMO_API_KEY" in str(caught.value)


async def test_optional_reference_falls_back_to_its_default() -> None:
    assert await resolve_references("k=${ customer_secrets.NOPE ?? 'fallback' }", lookup) == (
        "k=fallback"
    )
    assert await resolve_references('${ ns.X ?? "" }', lookup) == ""
    assert await resolve_references("${ secrets.SELLER ?? x }", lookup) == "s-9"


async def test_gateway_placeholder_is_not_a_secret_reference() -> None:
    text = "${API_GATEWAY_BASE_URL}/p/groq"
    assert secret_references(text) == []
    assert await resolve_references(text, lookup) == text


async def test_undefined_template_variable_is_a_render_error_naming_the_field() -> None:
    ch = channel({"base_url": "{{ params.base_url }}"}, name="byoe")
    with pytest.raises(RenderError, match=r"channel byoe\.base_url"):
        await render_channel(ch, RenderContext(service_name="s", params={}), lookup)


async def test_parameters_cannot_smuggle_secret_references() -> None:
    ch = channel({"base_url": "{{ params.base_url }}"})
    context = RenderContext(
        service_name="s", params={"base_url": "http://evil/${ secrets.SELLER }"}
    )
    with pytest.raises(RenderError, match="base_url"):
        await render_channel(ch, context, lookup)


async def test_sandbox_blocks_attribute_escapes() -> None:
    ch = channel({"base_url": "{{ params.__class__.__mro__ }}"})
    with pytest.raises(RenderError):
        await render_channel(ch, RenderContext(service_name="s", params={"a": 1}), lookup)


async def test_raw_block_is_not_jinja_expanded_but_secrets_resolve() -> None:
    ch = channel(
        {
            "base_url": "u",
            "raw": {
                "template": "{{ not_rendered }}",
                "token": "${ customer_secrets.GROQ_API_KEY }",
            },
        }
    )
    out = await render_channel(ch, RenderContext(service_name="s"), lookup)
    assert out["template"] == "{{ not_rendered }}"
    assert out["token"] == "gsk-123"
    assert "raw" not in out


def test_render_gateway_url() -> None:
    assert render_gateway_url("${API_GATEWAY_BASE_URL}/g/llm/v1", "http://h:1/") == (
        "http://h:1/g/llm/v1"
    )


def test_channel_secret_inventory() -> None:
    ch = channel(
        {
            "api_key": "${ customer_secrets.A }",
            "headers": {"x": "${ customer_secrets.B ?? none }", "y": "${ secrets.S }"},
        }
    )
    assert ch.kind == "byok"
    assert ch.required_secrets == ("A",)
    assert ch.optional_secrets == ("B",)
    assert ch.seller_secrets == ("S",)
    assert channel({"api_key": "${ secrets.S }"}).kind == "managed"
