"""``docs/grafana-dashboard.json`` asks only for metrics the server really exports, and
shows every one of the platform's own families."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from unitysvc_server.testing import LocalPlatform

DASHBOARD = Path(__file__).parents[3] / "docs" / "grafana-dashboard.json"
METRIC_NAME = re.compile(r"\b(?:unitysvc|process)_[a-z0-9_]+\b")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}


def queries(dashboard: dict[str, Any]) -> list[str]:
    found = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            found.append(query["query"])
    return found


def exported() -> dict[str, str]:
    """Every sample name a metrics-on server exports -> its family."""
    with LocalPlatform(demo=True, metrics=True, metrics_public=True) as platform:
        text = httpx.get(f"{platform.gateway_url}/metrics").text
    names: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        for suffix in SUFFIXES.get(family.type, ("",)):
            names[family.name + suffix] = family.name
    return names


def test_the_dashboard_queries_only_exported_metrics_and_shows_them_all() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = queries(dashboard)
    assert expressions
    used = {name for expression in expressions for name in METRIC_NAME.findall(expression)}
    names = exported()
    assert used - set(names) == set(), "the dashboard queries metrics the server does not export"
    # The parser reads a counter's or histogram's *_created samples as families of
    # their own; they are creation times, nothing to chart.
    own = {
        family
        for family in names.values()
        if family.startswith("unitysvc_") and not family.endswith("_created")
    }
    shown = {names[name] for name in used}
    assert own - shown == set(), "families missing from the dashboard"


def test_the_dashboard_is_importable_as_is() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        place = panel["gridPos"]
        assert place["x"] + place["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert variables == {"datasource", "service"}
