"""Client construction: key rules, environment fallbacks, gateway root, repr."""

from __future__ import annotations

import pytest

import unitysvc
from unitysvc import AuthenticationError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "UNITYSVC_API_KEY",
        "UNITYSVC_API_URL",
        "UNITYSVC_API_BASE_URL",
        "UNITYSVC_S3_BASE_URL",
        "UNITYSVC_SMTP_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    with unitysvc.Client() as client:
        assert client.base_url == unitysvc.DEFAULT_API_URL == "https://api.unitysvc.com/v1"
        assert client.api_base_url == "https://api.unitysvc.com"
        assert client.api_key is None
        assert client.max_retries == 2


def test_empty_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty string"):
        unitysvc.Client("")


def test_wrong_prefix_is_rejected_naming_the_prefix() -> None:
    with pytest.raises(ValueError, match="svcpass_"):
        unitysvc.Client("sk-123")


def test_env_fallbacks_and_constructor_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNITYSVC_API_URL", "http://env.example/v1")
    monkeypatch.setenv("UNITYSVC_S3_BASE_URL", "http://s3.example")
    monkeypatch.setenv("UNITYSVC_SMTP_BASE_URL", "smtp://mail.example:587")
    client = unitysvc.Client("svcpass_abc")
    assert client.base_url == "http://env.example/v1"
    assert client.api_base_url == "http://env.example"
    assert client.s3_base_url == "http://s3.example"
    assert client.smtp_base_url == "smtp://mail.example:587"
    explicit = unitysvc.Client("svcpass_abc", base_url="http://arg.example/v1/")
    assert explicit.base_url == "http://arg.example/v1"
    monkeypatch.setenv("UNITYSVC_API_BASE_URL", "http://gw.example/")
    assert unitysvc.Client("svcpass_abc").api_base_url == "http://gw.example"


def test_from_env_requires_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match="UNITYSVC_API_KEY"):
        unitysvc.Client.from_env()
    monkeypatch.setenv("UNITYSVC_API_KEY", "svcpass_fromenv123456")
    client = unitysvc.Client.from_env(max_retries=0)
    assert client.api_key == "svcpass_fromenv123456"
    assert client.max_retries == 0
    assert isinstance(unitysvc.AsyncClient.from_env(), unitysvc.AsyncClient)


def test_repr_shows_key_prefix_only() -> None:
    secret = "svcpass_0123456789abcdefSECRET"
    text = repr(unitysvc.Client(secret))
    assert "SECRET" not in text and "svcpass_0123" in text


def test_anonymous_client_refuses_private_calls_without_a_request() -> None:
    client = unitysvc.Client(base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(AuthenticationError, match="needs an API key"):
        client.secrets.list()


def test_resources_are_cached_per_client_and_typed_by_mode() -> None:
    client = unitysvc.Client("svcpass_abc")
    assert client.secrets is client.secrets
    from unitysvc.secrets import AsyncSecrets, Secrets

    assert type(client.secrets) is Secrets
    assert type(unitysvc.AsyncClient("svcpass_abc").secrets) is AsyncSecrets


def test_max_retries_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        unitysvc.Client("svcpass_abc", max_retries=-1)


def test_clients_share_one_verifying_tls_context_per_ca_location(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ssl

    import certifi

    from unitysvc._client import shared_ssl_context

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    default = shared_ssl_context()
    assert shared_ssl_context() is default  # built once, not per client
    assert default.verify_mode == ssl.CERT_REQUIRED and default.check_hostname
    assert default.cert_store_stats()["x509_ca"] > 0  # certifi's bundle, as httpx loads it
    # A CA location named in the environment (as httpx honours it) gets its own context.
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert shared_ssl_context() is not default
    assert shared_ssl_context().verify_mode == ssl.CERT_REQUIRED
