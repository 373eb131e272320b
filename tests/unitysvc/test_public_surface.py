"""Our public surface matches the SDK reference name for name.

``data/seed_signatures.txt`` lists every signature of the reference. For each, the
same class/function must exist at the same import path with the same parameter names,
kinds (positional / keyword-only) and defaults; extra trailing keyword-only
parameters are allowed. The async twin of each resource must match too.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data" / "seed_signatures.txt"
#: Deliberate departures from the reference, each required by the issue tracker.
ALLOWED_DEFAULTS = {
    # "omitted -> anonymous": the reference documents api_key as required.
    ("unitysvc.Client", "api_key"),
    ("unitysvc.AsyncClient", "api_key"),
}


def _entries() -> list[tuple[str, str]]:
    rows = []
    for line in DATA.read_text().splitlines():
        if line and not line.startswith("#"):
            owner, signature = (part.strip() for part in line.split("|", 1))
            rows.append((owner, signature))
    return rows


def _expected(signature: str) -> list[tuple[str, str, Any]]:
    head = signature.split(" -> ")[0]
    tree = ast.parse(f"def {head}: pass")
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    args = fn.args
    out: list[tuple[str, str, Any]] = []
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(positional, defaults, strict=True):
        out.append((arg.arg, "positional", _value(default)))
    if args.vararg:
        out.append((args.vararg.arg, "var_positional", inspect.Parameter.empty))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        out.append((arg.arg, "keyword_only", _value(kw_default)))
    if args.kwarg:
        out.append((args.kwarg.arg, "var_keyword", inspect.Parameter.empty))
    return out


def _value(node: ast.expr | None) -> Any:
    if node is None:
        return inspect.Parameter.empty
    if isinstance(node, ast.Name):
        return node.id.lstrip("_")  # the reference's _UNSET sentinel
    return ast.literal_eval(node)


def _actual(obj: Any) -> list[tuple[str, str, Any]]:
    kinds = {
        inspect.Parameter.POSITIONAL_ONLY: "positional",
        inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
        inspect.Parameter.VAR_POSITIONAL: "var_positional",
        inspect.Parameter.KEYWORD_ONLY: "keyword_only",
        inspect.Parameter.VAR_KEYWORD: "var_keyword",
    }
    out = []
    params = list(inspect.signature(obj).parameters.values())
    if params and params[0].name == "self":
        # Plain methods fetched from the class still carry ``self``; the
        # reference lists them as called on an instance.
        params = params[1:]
    for param in params:
        default = param.default
        if repr(default) == "NOT_GIVEN":
            # Our typed ``NotGiven`` sentinel stands for the reference's ``_UNSET``.
            default = "UNSET"
        out.append((param.name, kinds[param.kind], default))
    return out


def _resolve(owner: str, name: str) -> list[tuple[str, Any]]:
    """The objects to check: the member, and the async twin's member for classes."""
    try:
        module = importlib.import_module(owner)
    except ModuleNotFoundError:
        module_name, _, class_name = owner.rpartition(".")
        module = importlib.import_module(module_name)
        klass = getattr(module, class_name)
        if name == class_name:
            return [(owner, klass)]
        twin = getattr(module, f"Async{class_name}", None)
        targets = [(owner, getattr(klass, name))]
        if twin is not None:
            targets.append((f"{module_name}.Async{class_name}", getattr(twin, name)))
        return targets
    return [(owner, getattr(module, name))]


RESOURCE_CLASSES = {
    "Groups",
    "Services",
    "Enrollments",
    "Secrets",
    "Aliases",
    "RecurrentRequests",
    "RequestLogs",
}


@pytest.mark.parametrize(("owner", "signature"), _entries(), ids=lambda v: str(v)[:70])
def test_signature_matches_reference(owner: str, signature: str) -> None:
    name = signature.split("(", 1)[0]
    expected = _expected(signature)
    for where, obj in _resolve(owner, name):
        actual = _actual(obj)
        if name in RESOURCE_CLASSES:
            # Resource constructors take the client context as ``client`` (the
            # reference's generated low-level client does not exist here).
            assert actual[0][0] == "client", where
            continue
        assert len(actual) >= len(expected), f"{where}.{name}: {actual} vs {expected}"
        for (e_name, e_kind, e_default), (a_name, a_kind, a_default) in zip(
            expected, actual, strict=False
        ):
            assert (a_name, a_kind) == (e_name, e_kind), f"{where}.{name}"
            if (owner, e_name) not in ALLOWED_DEFAULTS:
                assert a_default == e_default, f"{where}.{name}({e_name}=...)"
        for a_name, a_kind, a_default in actual[len(expected) :]:
            # Additions must not break existing calls.
            assert (
                a_kind in {"keyword_only", "var_keyword"}
                or a_default is not inspect.Parameter.empty
            ), f"{where}.{name}: extra parameter {a_name} must be optional"
