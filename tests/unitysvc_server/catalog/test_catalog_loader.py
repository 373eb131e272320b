"""Loading seller catalogs: the real groq catalog and small hand-made ones."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from unitysvc_server.catalog.loader import CatalogError, load_catalog_dir, load_catalogs
from unitysvc_server.catalog.model import Catalog, stable_id

GROQ = Path(__file__).parents[1] / "data" / "catalogs" / "groq"


def test_groq_catalog_loads_with_one_warning_naming_each_incomplete_service(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="unitysvc_server.catalog.loader"):
        services = load_catalogs([GROQ])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    line = warnings[0].getMessage()
    assert "\n" not in line
    incomplete = sorted(
        p.name for p in (GROQ / "services").iterdir() if not (p / "offering.json").exists()
    )
    assert len(incomplete) == 20
    for name in incomplete:
        assert name in line
    assert len(services) == 16
    by_name = {s.name: s for s in services}
    llama = by_name["groq/llama-3.1-8b-instant"]
    # service_id from listing.override.json, not derived
    assert llama.id == uuid.UUID("18a68d4c-6a98-4e75-9bba-1a3cc0696b57")
    assert llama.provider_name == "groq"
    assert llama.status == "active" and llama.is_listed
    assert [i.gateway_path for i in llama.interfaces] == ["p/groq"]
    assert dict(llama.interfaces[0].routing_key or {}) == {"model": "llama-3.1-8b-instant"}
    (chan,) = llama.channels
    assert chan.kind == "byok" and chan.required_secrets == ("GROQ_API_KEY",)
    assert chan.base_url == "https://api.groq.com/openai"
    assert llama.list_price is not None and llama.list_price["type"] == "one_million_tokens"
    # the override's name wins over the default
    assert "whisper-large-v3" in by_name
    # $doc_preset documents are expanded and their text loaded
    docs = {d.title: d for d in llama.documents}
    assert docs["Python code example"].renderable
    assert docs["Python code example"].content


def test_groq_paths_index_every_model_under_p_groq() -> None:
    catalog = Catalog(load_catalog_dir(GROQ).services)
    match = catalog.match_path("p/groq/v1/chat/completions")
    assert match is not None
    assert match.prefix == "p/groq" and match.remainder == "v1/chat/completions"
    assert len(match.entries) == 16
    assert catalog.match_path("p/groqx/v1") is None


def write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


PROVIDER = {
    "name": "acme",
    "contact_email": "ops@acme.example",
    "homepage": "https://acme.example/",
    "time_created": "2026-01-01T00:00:00Z",
}


def offering(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "summary": "s",
        "description": "d",
        "time_created": "2026-01-01T00:00:00Z",
        "upstream_access_config": {
            "managed": {"base_url": "https://up.acme.example", "api_key": "${ secrets.ACME }"}
        },
        **extra,
    }


def listing(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "status": "ready",
        "time_created": "2026-02-01T00:00:00Z",
        "user_access_interfaces": {
            "canonical": {"base_url": "${API_GATEWAY_BASE_URL}/{{ service_name }}"}
        },
        **extra,
    }


def test_override_merges_and_invalid_services_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "provider.json").write_text(json.dumps(PROVIDER))
    write(tmp_path / "services/good/offering.json", offering("good"))
    write(tmp_path / "services/good/listing.json", listing("acme/good", display_name="Old"))
    write(tmp_path / "services/good/listing.override.json", {"display_name": "New"})
    write(tmp_path / "services/bad/offering.json", offering("bad"))
    write(tmp_path / "services/bad/listing.json", listing("acme/bad", list_price={"type": "?"}))
    write(tmp_path / "services/draft/offering.json", offering("draft"))
    write(tmp_path / "services/draft/listing.json", listing("acme/draft", status="draft"))
    with caplog.at_level(logging.WARNING, logger="unitysvc_server.catalog.loader"):
        report = load_catalog_dir(tmp_path)
        report.log_warnings()
    names = {s.name: s for s in report.services}
    assert set(names) == {"acme/good", "acme/draft"}
    good = names["acme/good"]
    assert good.display_name == "New"
    assert good.id == stable_id("service", "acme/good")
    assert good.interfaces[0].base_url == "${API_GATEWAY_BASE_URL}/acme/good"
    assert good.channels[0].seller_secrets == ("ACME",)
    assert not names["acme/draft"].is_listed
    assert [name for name, _ in report.invalid] == ["bad"]
    assert "list_price" in report.invalid[0][1]
    assert any("bad (" in r.getMessage() for r in caplog.records)
    # the draft service is not routable
    catalog = Catalog(report.services)
    assert catalog.interfaces_at("acme/draft") == ()
    assert len(catalog.interfaces_at("acme/good")) == 1


def test_multi_provider_directory(tmp_path: Path) -> None:
    for provider in ("one", "two"):
        root = tmp_path / provider
        write(root / "provider.json", {**PROVIDER, "name": provider})
        write(root / "services/svc/offering.json", offering("svc"))
        write(root / "services/svc/listing.json", listing(f"{provider}/svc"))
    names = sorted(s.name for s in load_catalog_dir(tmp_path).services)
    assert names == ["one/svc", "two/svc"]


def test_directory_without_provider_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no provider"):
        load_catalog_dir(tmp_path)
    with pytest.raises(CatalogError, match="not a directory"):
        load_catalog_dir(tmp_path / "missing")


def test_invalid_provider_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path / "provider.json", {**PROVIDER, "contact_email": "not-an-email"})
    write(tmp_path / "services/svc/offering.json", offering("svc"))
    write(tmp_path / "services/svc/listing.json", listing("acme/svc"))
    with pytest.raises(CatalogError, match=r"provider\.json: contact_email"):
        load_catalog_dir(tmp_path)


def test_duplicate_service_ids_are_refused(tmp_path: Path) -> None:
    (tmp_path / "provider.json").write_text(json.dumps(PROVIDER))
    write(tmp_path / "services/aa/offering.json", offering("aa"))
    write(tmp_path / "services/aa/listing.json", listing("acme/aa"))
    services = load_catalog_dir(tmp_path).services
    assert len(services) == 1
    with pytest.raises(ValueError, match="is used by both"):
        Catalog(services + services)
