"""The HTTP surface under generated and unexpected input: never a 5xx of our own making.

* Every ``/v1`` path answers a method it is not served with by 405 whose ``Allow`` names
  exactly the methods the path *is* served with — across all routes sharing the path,
  and also where the path reads as another method's route only with invalid parameters
  (``GET /v1/request-logs/start`` is 405 ``Allow: POST``, not a 422 about a ``log_id``).
* A property sweep (schemathesis) over the gateway's routes — every addressing primitive
  and wrapper, schema-valid and schema-violating requests — finds no 500 and no error
  without the gateway's error shape. (``tests/unitysvc_server/test_fuzz_api.py`` sweeps
  ``/v1``.)
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from unitysvc_server.testing import LocalPlatform

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

#: Generated requests per operation and mode: derandomized, so every run sends the same
#: ones. Generation, not the server, is most of this test's time; a deeper sweep is
#: ``UNITYSVC_FUZZ_EXAMPLES=50`` (shared with ``tests/unitysvc_server/test_fuzz_api.py``).
GENERATED_EXAMPLES = int(os.environ.get("UNITYSVC_FUZZ_EXAMPLES", "6"))


def _path_params(operation: dict[str, Any]) -> dict[str, bool]:
    """Path parameter name -> whether it must be a UUID."""
    params: dict[str, bool] = {}
    for param in operation.get("parameters", []):
        if param.get("in") == "path":
            schema = param.get("schema", {})
            branches = schema.get("anyOf", [schema])
            params[param["name"]] = any(b.get("format") == "uuid" for b in branches)
    return params


def _pattern(template: str, uuids: dict[str, bool]) -> re.Pattern[str]:
    regex = re.escape(template)
    for name, is_uuid in uuids.items():
        regex = regex.replace(re.escape("{" + name + "}"), _UUID if is_uuid else "[^/]+")
    return re.compile(f"^{regex}$")


def test_undeclared_methods_get_405_with_every_served_method_in_allow(
    platform: LocalPlatform, key: str
) -> None:
    spec = httpx.get(f"{platform.gateway_url}/openapi.json").json()
    templates: list[tuple[re.Pattern[str], set[str]]] = []
    samples: set[str] = set()
    for template, operations in spec["paths"].items():
        uuids: dict[str, bool] = {}
        for operation in operations.values():
            uuids.update(_path_params(operation))
        templates.append((_pattern(template, uuids), {m.upper() for m in operations}))
        concrete = template
        for name, is_uuid in uuids.items():
            concrete = concrete.replace("{" + name + "}", str(uuid.uuid4()) if is_uuid else "x1")
        samples.add(concrete)
        if uuids and any(uuids.values()):
            # The same path with a non-UUID where a UUID is expected.
            plain = template
            for name in uuids:
                plain = plain.replace("{" + name + "}", "start")
            samples.add(plain)
    checked = 0
    problems: list[str] = []
    with httpx.Client(
        base_url=platform.gateway_url, headers={"Authorization": f"Bearer {key}"}
    ) as http:
        for path in sorted(samples):
            served = set().union(*(m for p, m in templates if p.match(path)))
            if not served:
                continue
            for method in sorted(set(METHODS) - served):
                response = http.request(method, path)
                checked += 1
                allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m}
                if response.status_code != 405 or allow != served:
                    problems.append(
                        f"{method} {path} -> {response.status_code}, Allow {sorted(allow)}; "
                        f"served: {sorted(served)}"
                    )
                else:
                    assert isinstance(response.json()["detail"], str)
    assert checked > 100
    assert problems == []


GATEWAY_SPEC_PATHS = {
    "/p/{service}/{sub}": "service",
    "/g/{group}/{sub}": "group",
    "/a/{alias}/{sub}": "alias",
    "/e/{code}/{sub}": "code",
    "/c/{chain}": "chain",
    "/b/{broadcast}": "broadcast",
    "/{listing}/{sub}": "listing",
    "/l/p/{service}/{sub}": "service",
    "/m/p/{service}/{sub}": "service",
    "/f/p/{service}/{sub}": "service",
    "/t/p/{service}/{sub}": "service",
}


def _gateway_spec(known: dict[str, list[str]]) -> dict[str, Any]:
    """An OpenAPI description of the gateway's route grammar, to generate requests from."""

    def param(name: str) -> dict[str, Any]:
        values = known.get(name, [])
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if values:
            schema = {"anyOf": [{"enum": values}, schema]}
        return {"name": name, "in": "path", "required": True, "schema": schema}

    query = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in ("_ttl", "_renew", "_complete", "_else", "_to", "q")
    ]
    body = {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "model": {"type": "string"},
                        "messages": {"type": "array", "items": {"type": "object"}},
                        "stream": {"type": "boolean"},
                    },
                }
            }
        },
    }
    paths: dict[str, Any] = {}
    for template in GATEWAY_SPEC_PATHS:
        names = re.findall(r"{(\w+)}", template)
        operation = {
            "parameters": [param(n) for n in names] + query,
            "responses": {"default": {"description": "anything but a 500"}},
        }
        paths[template] = {
            "get": {**operation, "operationId": f"get{template}"},
            "post": {**operation, "requestBody": body, "operationId": f"post{template}"},
        }
    return {"openapi": "3.0.3", "info": {"title": "gateway", "version": "1"}, "paths": paths}


@pytest.mark.slow
@pytest.mark.parametrize("mode_name", ["positive", "negative"])
def test_the_gateway_answers_generated_requests_without_a_server_error(
    platform: LocalPlatform, key: str, guarded_id: str, mode_name: str
) -> None:
    # Imported here, not at the top: importing schemathesis takes a second, and every
    # pytest-xdist worker imports every test module to collect it.
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.core.result import Ok

    mode = GenerationMode(mode_name)
    catalog = platform.app.runtime.catalog
    known = {
        "service": [guarded_id, str(catalog.service_by_name("echo").id), str(uuid.uuid4())],
        "group": ["llm", "all_services"],
        "listing": ["demo-small", "echo", "seccat"],
        "sub": ["chat/completions", "v1", "x"],
        "alias": ["missing"],
        "chain": ["missing"],
        "broadcast": ["missing"],
    }
    schema = schemathesis.openapi.from_dict(_gateway_spec(known))
    headers = {"Authorization": f"Bearer {key}"}
    problems: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations += 1

        @given(case=result.ok().as_strategy(generation_mode=mode))
        @settings(
            # A schema-breaking request costs ~0.1 s to generate (most drafts are
            # filtered out), and here only an empty segment or a mistyped body breaks
            # the schema: half as many reach those.
            max_examples=GENERATED_EXAMPLES // (2 if mode is GenerationMode.NEGATIVE else 1),
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def probe(case: Any) -> None:
            response = case.call(base_url=platform.gateway_url, headers=headers, timeout=30)
            where = f"{case.method} {case.formatted_path} {case.query}"
            assert response.status_code != 500, f"{where} -> 500: {response.text[:300]}"
            if "json" in response.headers.get("content-type", ""):
                try:
                    body = response.json()
                except ValueError:
                    return
                if isinstance(body, dict) and "error_type" in body:
                    assert body["error_type"] != "internal_error", where
                    assert isinstance(body.get("detail"), str), f"{where}: {body}"

        try:
            probe()
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE
    assert operations == 2 * len(GATEWAY_SPEC_PATHS)
    assert problems == []
