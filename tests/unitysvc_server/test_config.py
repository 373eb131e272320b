"""``Settings``: defaults, normalisation and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from unitysvc_server.config import Settings, SettingsError


def test_defaults_and_derived_urls(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'unitysvc.db'}"
    assert settings.is_sqlite
    assert settings.gateway_url == "http://127.0.0.1:8000"
    assert settings.api_url == "http://127.0.0.1:8000/v1"
    assert Settings(data_dir=tmp_path, host="0.0.0.0", port=9).gateway_url == "http://127.0.0.1:9"
    public = Settings(data_dir=tmp_path, public_url="https://x.test/")
    assert public.api_url == "https://x.test/v1"


def test_inputs_are_normalised(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=str(tmp_path),  # type: ignore[arg-type]
        catalogs=[str(tmp_path)],  # type: ignore[arg-type]
        upstreams={"HTTPS://API.Groq.com/": "http://127.0.0.1:9001"},
        log_level="debug",
    )
    assert settings.data_dir == tmp_path and settings.catalogs == (tmp_path,)
    assert dict(settings.upstreams) == {"https://api.groq.com": "http://127.0.0.1:9001"}
    assert settings.log_level == "DEBUG"


def test_secret_key_is_not_in_the_repr(tmp_path: Path) -> None:
    assert "topsecret" not in repr(Settings(data_dir=tmp_path, secret_key="topsecret"))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"port": 70000}, "port"),
        ({"database_url": "mysql://x/y"}, "database_url"),
        ({"redis_url": "http://x"}, "redis_url"),
        ({"upstreams": {"api.groq.com": "http://127.0.0.1:1"}}, "upstreams"),
        ({"upstreams": {"https://a.test": "http://127.0.0.1:1/path"}}, "upstreams"),
        ({"public_url": "/relative"}, "public_url"),
        ({"rate_limit_rps": 0}, "rate_limit_rps"),
        ({"rate_limit_burst": 0}, "rate_limit_burst"),
        ({"max_body_bytes": 10}, "max_body_bytes"),
        ({"log_level": "LOUD"}, "log_level"),
    ],
)
def test_invalid_values_name_the_field(
    tmp_path: Path, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(SettingsError, match=rf"^{field}"):
        Settings(data_dir=tmp_path, **overrides)  # type: ignore[arg-type]
