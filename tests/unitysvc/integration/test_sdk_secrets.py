"""Secrets through the SDK against the platform, sync and async."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from unitysvc import AuthenticationError, NotFoundError
from unitysvc.models import SecretPublic, SecretsPublic


def _name() -> str:
    return "T_" + uuid.uuid4().hex[:12].upper()


def test_set_get_list_delete(client: Any) -> None:
    name = _name()
    stored = client.secrets.set(name, "s3cret-value", description="for tests")
    assert isinstance(stored, SecretPublic)
    assert stored.name == name
    assert stored.sensitive is True
    assert stored.value is None  # write-only

    fetched = client.secrets.get(name)
    assert fetched.id == stored.id
    assert fetched.description == "for tests"

    page = client.secrets.list()
    assert isinstance(page, SecretsPublic)
    assert name in {s.name for s in page.data}

    replaced = client.secrets.set(name, "another")
    assert replaced.id == stored.id

    message = client.secrets.delete(name)
    assert name in message.message or message.message
    with pytest.raises(NotFoundError) as info:
        client.secrets.get(name)
    assert info.value.status_code == 404
    assert info.value.request_id


def test_variable_value_is_readable(client: Any) -> None:
    name = _name()
    client.secrets.set(name, "visible", sensitive=False)
    assert client.secrets.get(name).value == "visible"
    client.secrets.delete(name)


def test_iter_walks_every_page(client: Any) -> None:
    names = {_name() for _ in range(5)}
    for name in names:
        client.secrets.set(name, "v")
    seen = {s.name for s in client.secrets.iter(page_size=2)}
    assert names <= seen
    for name in names:
        client.secrets.delete(name)


def test_bad_name_is_refused_before_any_request(client: Any) -> None:
    with pytest.raises(ValueError, match=r"\^\[A-Z_\]"):
        client.secrets.set("lower-case", "v")


def test_anonymous_client_cannot_touch_secrets(anonymous: Any) -> None:
    with pytest.raises(AuthenticationError):
        anonymous.secrets.list()
