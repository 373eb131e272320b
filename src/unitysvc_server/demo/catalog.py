"""The demo catalog: services in the platform's data format, pointed at the mock upstreams.

Built as provider/offering/listing dicts and run through the same
unitysvc-core validation as seller catalogs (:func:`build_service`), so the
demo exercises the real loading path. Services:

* ``demo-small`` / ``demo-medium`` / ``demo-large`` -- chat models with
  different list prices, each at ``${API_GATEWAY_BASE_URL}/<name>/v1``;
* ``demo-byok`` -- needs the customer secret ``DEMO_API_KEY`` (the upstream
  accepts :data:`~unitysvc_server.demo.upstreams.DEMO_BYOK_KEY`);
* ``demo-byoe`` -- needs an enrollment with ``base_url`` (and optionally
  ``api_key_secret``, the name of a customer secret sent as the upstream key);
* ``demo-down`` -- always 503 (failover target practice);
* ``echo`` -- reflects the request.

Groups (see :data:`DEMO_GROUPS_TOML`): ``llm`` over the three chat models,
weighted, content-dependent on ``model``, with an OpenAI-compatible interface
``${API_GATEWAY_BASE_URL}/g/llm/v1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unitysvc_server.catalog.groups import parse_groups
from unitysvc_server.catalog.loader import build_service
from unitysvc_server.catalog.model import CatalogGroup, CatalogService

DOCS_DIR = Path(__file__).parent / "docs"

PROVIDER: dict[str, Any] = {
    "name": "demo",
    "display_name": "Demo (built in)",
    "contact_email": "demo@example.com",
    "homepage": "https://example.com/",
    "status": "ready",
    "time_created": "2026-01-01T00:00:00Z",
}

#: List prices per chat model (USD per 1M input/output tokens).
CHAT_PRICES = {
    "demo-small": ("0.10", "0.20"),
    "demo-medium": ("0.50", "1.00"),
    "demo-large": ("2.00", "4.00"),
}

BYOE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "base_url": {
            "type": "string",
            "pattern": "^https?://[^\\s]+$",
            "description": "Your OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1",
        },
        "api_key_secret": {
            "type": "string",
            "pattern": "^[A-Z_][A-Z0-9_]*$",
            "description": "Name of your customer secret holding the endpoint's API key",
        },
    },
    "required": ["base_url"],
    "additionalProperties": False,
}

DEMO_GROUPS_TOML = """
[[group]]
name = "llm"
display_name = "LLM (demo)"
description = "The demo chat models behind one OpenAI-compatible endpoint."
sort_order = 10
routing_policy = { name = "weighted_random", content_dependent = true }
interface = { name = "openai", base_url = "${API_GATEWAY_BASE_URL}/g/llm/v1", \
description = "OpenAI-compatible; name a member's model to pick it" }

[[group.members]]
service = "demo-small"
weight = 50

[[group.members]]
service = "demo-medium"
weight = 30

[[group.members]]
service = "demo-large"
weight = 20
"""


def _documents() -> dict[str, Any]:
    return {
        "Quickstart": {
            "category": "getting_started",
            "mime_type": "markdown",
            "file_path": str(DOCS_DIR / "quickstart.md"),
            "is_public": True,
        },
        "Python code example": {
            "category": "code_example",
            "mime_type": "python",
            "file_path": str(DOCS_DIR / "chat_openai.py.j2"),
            "is_public": True,
        },
        "cURL code example": {
            "category": "code_example",
            "mime_type": "bash",
            "file_path": str(DOCS_DIR / "chat_curl.sh.j2"),
            "is_public": True,
        },
    }


def _offering(
    name: str, summary: str, channels: dict[str, Any], *, service_type: str = "llm"
) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": name.replace("-", " ").title(),
        "summary": summary,
        "description": summary,
        "service_type": service_type,
        "status": "ready",
        "tags": ["demo"],
        "capabilities": ["chat"] if service_type == "llm" else [],
        "time_created": "2026-01-01T00:00:00Z",
        "upstream_access_config": channels,
    }


def _listing(
    name: str, price: dict[str, Any], created: str, *, suffix: str = "/v1", **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "status": "ready",
        "time_created": created,
        "list_price": price,
        "user_access_interfaces": {
            "canonical": {
                "access_method": "http",
                "base_url": "${API_GATEWAY_BASE_URL}/{{ service_name }}" + suffix,
            }
        },
        "service_options": {"default_visibility": "public"},
        **extra,
    }


def demo_services(upstream: str) -> list[CatalogService]:
    """The demo services, their upstreams under the mock server ``upstream``."""
    specs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for index, (model, (inp, out)) in enumerate(CHAT_PRICES.items()):
        specs.append(
            (
                _offering(
                    model,
                    f"Mock chat model {model}: echoes your last message",
                    {
                        "managed": {
                            "access_method": "http",
                            "base_url": f"{upstream}/{model}/v1",
                            "api_key": "__strip__",
                            "routing_key": {"model": model},
                        }
                    },
                ),
                _listing(
                    model,
                    {"type": "one_million_tokens", "input": inp, "output": out},
                    f"2026-01-0{index + 2}T00:00:00Z",
                    documents=_documents(),
                ),
            )
        )
    specs.append(
        (
            _offering(
                "demo-byok",
                "Mock chat model reached with your own key (customer secret DEMO_API_KEY)",
                {
                    "byok": {
                        "access_method": "http",
                        "base_url": f"{upstream}/demo-byok/v1",
                        "api_key": "${ customer_secrets.DEMO_API_KEY }",
                        "routing_key": {"model": "demo-byok"},
                    }
                },
            ),
            _listing(
                "demo-byok",
                {"type": "constant", "price": "0", "description": "Free (bring your own key)"},
                "2026-01-05T00:00:00Z",
            ),
        )
    )
    specs.append(
        (
            _offering(
                "demo-byoe",
                "Your own OpenAI-compatible endpoint, enrolled with its base_url",
                {
                    "byoe": {
                        "access_method": "http",
                        "base_url": "{{ params.base_url }}",
                        "api_key": (
                            "{% if 'api_key_secret' in params %}"
                            "${ customer_secrets.{{ params.api_key_secret }} }"
                            "{% else %}__strip__{% endif %}"
                        ),
                    }
                },
            ),
            _listing(
                "demo-byoe",
                {"type": "constant", "price": "0", "description": "Free (your own endpoint)"},
                "2026-01-06T00:00:00Z",
                suffix="",
                user_parameters_schema=BYOE_SCHEMA,
            ),
        )
    )
    specs.append(
        (
            _offering(
                "demo-down",
                "Always answers 503: a failover test target",
                {"managed": {"access_method": "http", "base_url": f"{upstream}/demo-down"}},
            ),
            _listing("demo-down", {"type": "constant", "price": "0"}, "2026-01-07T00:00:00Z"),
        )
    )
    specs.append(
        (
            _offering(
                "echo",
                "Echoes method, path, query, headers and body as JSON",
                {"managed": {"access_method": "http", "base_url": f"{upstream}/echo"}},
                service_type="proxy",
            ),
            _listing("echo", {"type": "constant", "price": "0"}, "2026-01-08T00:00:00Z", suffix=""),
        )
    )
    return [build_service(PROVIDER, offering, listing) for offering, listing in specs]


def demo_groups(services: list[CatalogService]) -> list[CatalogGroup]:
    """The demo's platform groups (``llm``)."""
    return parse_groups(DEMO_GROUPS_TOML, services, "demo groups")
