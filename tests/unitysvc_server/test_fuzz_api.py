"""Property-based sweep (schemathesis) over the app's own OpenAPI: never a 5xx.

Every documented operation gets generated requests -- schema-valid ones and
ones violating the schema -- sent over HTTP to a running platform as an
authenticated customer. Bounded per operation so the sweep stays well under a
minute; ``derandomize`` makes runs repeatable.

For a deeper exploratory run, set ``UNITYSVC_FUZZ_SEED`` (a different seed
explores different inputs) and ``UNITYSVC_FUZZ_EXAMPLES`` (examples per
operation), e.g. in a loop against PostgreSQL::

    for seed in 1 2 3; do UNITYSVC_FUZZ_SEED=$seed UNITYSVC_FUZZ_EXAMPLES=50 \
        pytest tests/unitysvc_server/test_fuzz_api.py; done
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable

from unitysvc_server.testing import LocalPlatform

EXAMPLES_PER_OPERATION = int(os.environ.get("UNITYSVC_FUZZ_EXAMPLES", "4"))
#: ``None``: the default, derandomized (repeatable) run.
SEED = int(os.environ["UNITYSVC_FUZZ_SEED"]) if os.environ.get("UNITYSVC_FUZZ_SEED") else None


#: Keywords that describe a schema without constraining its values.
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated"})


def _any_string(schema: dict[str, Any]) -> bool:
    """Whether every string is valid for ``schema`` (``string``, or ``string | null``)."""
    if set(schema) - _ANNOTATIONS == {"type"}:
        return bool(schema["type"] == "string")
    if set(schema) - _ANNOTATIONS == {"anyOf"}:
        options = schema["anyOf"]
        return any(_any_string(o) for o in options) and all(
            _any_string(o) or o == {"type": "null"} for o in options
        )
    return False


def _nothing_to_violate(raw: dict[str, Any]) -> bool:
    """An operation without a body whose parameters all take any string: no request to
    it can break its schema. Negative generation would search ~1 s before giving up
    (``Unsatisfiable``), for each such operation."""
    if "requestBody" in raw:
        return False
    return all(
        p.get("in") in ("path", "header") and _any_string(p.get("schema", {}))
        for p in raw.get("parameters", [])
    )


def _check(response: Any, case: Any) -> str | None:
    where = f"{case.method} {case.formatted_path} (query {case.query}, body {case.body!r:.200})"
    if response.status_code >= 500:
        return f"{where} -> {response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        detail = response.json().get("detail")
        if response.status_code == 422:
            if not (
                isinstance(detail, list) and all({"loc", "msg", "type"} <= set(i) for i in detail)
            ):
                return f"{where} -> 422 not FastAPI-shaped: {detail!r:.300}"
        elif not isinstance(detail, str):
            return f"{where} -> {response.status_code} detail is not a string: {detail!r:.300}"
    return None


@pytest.mark.slow
@pytest.mark.parametrize("mode_name", ["positive", "negative"])
def test_no_server_errors(
    platform: LocalPlatform,
    customer_key: str,
    mode_name: str,
    contract_check: Callable[[httpx.Response], None],
) -> None:
    # Imported here, not at the top: importing schemathesis takes a second, and every
    # pytest-xdist worker imports every test module to collect it.
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.core.result import Ok

    mode = GenerationMode(mode_name)
    spec = httpx.get(f"{platform.gateway_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Authorization": f"Bearer {customer_key}"}
    problems: list[str] = []
    operations = unviolable = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"invalid operation in the app's OpenAPI: {result!r}"
        operation = result.ok()
        operations += 1
        if mode is GenerationMode.NEGATIVE and _nothing_to_violate(operation.definition.raw):
            unviolable += 1
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            derandomize=SEED is None,
            database=None,
        )
        def probe(case: Any) -> None:
            response = case.call(base_url=platform.gateway_url, headers=headers, timeout=30)
            problem = _check(response, case)
            assert problem is None, problem
            # Whatever was accepted is answered in the contract's shapes.
            request = httpx.Request(response.request.method or "GET", response.request.url or "")
            try:
                contract_check(
                    httpx.Response(response.status_code, content=response.content, request=request)
                )
            except AssertionError as exc:
                raise AssertionError(f"{case.method} {case.formatted_path}: {exc}") from None

        if SEED is not None:
            probe = seed(SEED)(probe)
        try:
            probe()
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
        except Unsatisfiable:
            # Nothing in this operation can be made schema-invalid (negative mode).
            assert mode is GenerationMode.NEGATIVE
            continue
    assert operations >= 4
    # Most operations have something to violate; a schema change that made them all
    # accept anything would leave this sweep testing nothing.
    assert unviolable < operations // 2
    assert problems == []
