"""The app's own OpenAPI against the wire contract: fails on any drift.

Every contract path+method must exist under ``/v1`` with the same parameters
(path and query), the same documented success status, and request/response
bodies whose required fields and property names match the contract's.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from unitysvc_server.app import create_app
from unitysvc_server.config import Settings

CONTRACT = (
    Path(__file__).parents[2] / "src" / "unitysvc_server" / "contract" / "customer-openapi.json"
)
PREFIX = "/v1"
METHODS = ("get", "put", "post", "patch", "delete")
MAX_DEPTH = 4

Spec = dict[str, Any]


def _resolve(spec: Spec, schema: Any) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    if isinstance(schema, dict) and "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b != {"type": "null"}]
        if len(branches) == 1:
            return _resolve(spec, branches[0])
    return schema


def _compare_schema(
    where: str, contract: Spec, c_schema: Any, app: Spec, a_schema: Any, depth: int = 0
) -> list[str]:
    c_schema, a_schema = _resolve(contract, c_schema), _resolve(app, a_schema)
    if isinstance(c_schema, dict) and "anyOf" in c_schema:
        # A union in the contract (e.g. detail | ops-detail): the app must match one branch.
        attempts = [
            _compare_schema(where, contract, branch, app, a_schema, depth)
            for branch in c_schema["anyOf"]
            if branch != {"type": "null"}
        ]
        return [] if any(not a for a in attempts) else attempts[0]
    if depth > MAX_DEPTH or not isinstance(c_schema, dict) or not isinstance(a_schema, dict):
        return []
    problems: list[str] = []
    if c_schema.get("type") == "array":
        if a_schema.get("type") != "array":
            return [f"{where}: contract has an array, app has {a_schema.get('type')!r}"]
        return _compare_schema(
            f"{where}[]", contract, c_schema.get("items"), app, a_schema.get("items"), depth + 1
        )
    c_required, a_required = set(c_schema.get("required", ())), set(a_schema.get("required", ()))
    if c_required != a_required:
        problems.append(
            f"{where}: required fields differ: contract {sorted(c_required)}, "
            f"app {sorted(a_required)}"
        )
    c_props, a_props = c_schema.get("properties", {}), a_schema.get("properties", {})
    missing = sorted(set(c_props) - set(a_props))
    if missing:
        problems.append(f"{where}: properties missing in app: {missing}")
    for name in sorted(set(c_props) & set(a_props)):
        problems += _compare_schema(
            f"{where}.{name}", contract, c_props[name], app, a_props[name], depth + 1
        )
    c_enum, a_enum = c_schema.get("enum"), a_schema.get("enum")
    if c_enum is not None and set(a_enum or ()) != set(c_enum):
        problems.append(f"{where}: enum differs: contract {c_enum}, app {a_enum}")
    return problems


def _params(operation: Spec) -> dict[tuple[str, str], bool]:
    return {
        (p["in"], p["name"].lower()): bool(p.get("required"))
        for p in operation.get("parameters", ())
        if p["in"] in ("path", "query")
    }


def _body_schema(operation: Spec) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    return content.get("application/json", {}).get("schema")


def _success(operation: Spec) -> dict[str, Any]:
    return {
        code: body.get("content", {}).get("application/json", {}).get("schema")
        for code, body in operation.get("responses", {}).items()
        if code.startswith("2")
    }


def drift(contract: Spec, app: Spec) -> list[str]:
    """Every difference between ``contract`` and ``app`` that the SDK would notice."""
    problems: list[str] = []
    for path, operations in contract["paths"].items():
        app_operations = app["paths"].get(PREFIX + path, {})
        for method in METHODS:
            if method not in operations:
                continue
            where = f"{method.upper()} {path}"
            c_op = operations[method]
            if method not in app_operations:
                problems.append(f"{where}: missing")
                continue
            a_op = app_operations[method]
            c_params, a_params = _params(c_op), _params(a_op)
            for param, required in sorted(c_params.items()):
                if param not in a_params:
                    problems.append(f"{where}: {param[0]} parameter {param[1]!r} missing")
                elif a_params[param] != required:
                    problems.append(f"{where}: {param[0]} parameter {param[1]!r} required differs")
            for param in sorted(set(a_params) - set(c_params)):
                if a_params[param]:
                    problems.append(
                        f"{where}: app requires extra {param[0]} parameter {param[1]!r}"
                    )
            c_body, a_body = _body_schema(c_op), _body_schema(a_op)
            if (c_body is None) != (a_body is None):
                problems.append(f"{where}: request body presence differs")
            elif c_body is not None:
                problems += _compare_schema(f"{where} body", contract, c_body, app, a_body)
            a_success = _success(a_op)
            for code, c_schema in _success(c_op).items():
                if code not in a_success:
                    problems.append(
                        f"{where}: status {code} not documented (app: {sorted(a_success)})"
                    )
                elif c_schema is not None:
                    problems += _compare_schema(
                        f"{where} -> {code}", contract, c_schema, app, a_success[code]
                    )
    return problems


@pytest.fixture(scope="module")
def contract() -> Spec:
    spec: Spec = json.loads(CONTRACT.read_text())
    return spec


@pytest.fixture(scope="module")
def app_spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")))
    return app.openapi()


def test_app_matches_the_contract(contract: Spec, app_spec: Spec) -> None:
    problems = drift(contract, app_spec)
    missing = [p for p in problems if p.endswith(": missing")]
    assert problems == [], (
        f"{len(missing)} contract operations missing, {len(problems) - len(missing)} other "
        "differences:\n" + "\n".join(problems)
    )


def test_the_comparison_detects_drift(contract: Spec, app_spec: Spec) -> None:
    baseline = set(drift(contract, app_spec))
    changed = copy.deepcopy(app_spec)
    secret = changed["components"]["schemas"]["SecretPublic"]
    secret["required"] = [f for f in secret["required"] if f != "sensitive"]
    del changed["paths"]["/v1/secrets/{name}"]["delete"]
    put = changed["paths"]["/v1/secrets/{name}"]["put"]
    put["parameters"] = [p for p in put["parameters"] if p["name"] != "shared"]
    put["responses"]["201"] = put["responses"].pop("200")
    new = set(drift(contract, changed)) - baseline
    assert "DELETE /secrets/{name}: missing" in new
    assert "PUT /secrets/{name}: query parameter 'shared' missing" in new
    assert any(p.startswith("PUT /secrets/{name}: status 200 not documented") for p in new)
    assert any("GET /secrets/{name} -> 200: required fields differ" in p for p in new)


#: What unitysvc-py 0.2.1 added to the contract, and what 0.1.22 had that 0.2.1 dropped
#: (still served for 0.1.22 clients).
NEW_IN_021 = (
    ("get", "/preferences/"),
    ("get", "/preferences/{name}"),
    ("put", "/preferences/{name}"),
    ("delete", "/preferences/{name}"),
    ("get", "/usage/cycle"),
)
KEPT_FROM_0122 = (("post", "/request-logs/start"), ("post", "/request-logs/stop"))


@pytest.mark.parametrize(("method", "path"), NEW_IN_021 + KEPT_FROM_0122)
def test_both_releases_operations_are_in_the_contract_and_the_app(
    contract: Spec, app_spec: Spec, method: str, path: str
) -> None:
    assert method in contract["paths"][path]
    assert method in app_spec["paths"][PREFIX + path]
    assert not [p for p in drift(contract, app_spec) if p.startswith(f"{method.upper()} {path}")]


def test_drift_in_the_new_operations_is_detected(contract: Spec, app_spec: Spec) -> None:
    changed = copy.deepcopy(app_spec)
    del changed["paths"]["/v1/usage/cycle"]
    new = set(drift(contract, changed)) - set(drift(contract, app_spec))
    assert "GET /usage/cycle: missing" in new
    changed = copy.deepcopy(app_spec)
    preference = changed["components"]["schemas"]["PreferencePublic"]
    del preference["properties"]["effective"]
    new = set(drift(contract, changed)) - set(drift(contract, app_spec))
    assert any("GET /preferences/{name} -> 200: properties missing in app" in p for p in new)
