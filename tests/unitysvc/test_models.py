"""Wire models: list envelopes behave as sequences, unknown fields are kept."""

from __future__ import annotations

import uuid

from unitysvc.models import SecretPublic, SecretsPublic, ServiceAliasesPublic


def _secret(name: str) -> dict[str, object]:
    return {
        "name": name,
        "id": str(uuid.uuid4()),
        "owner_type": "customer",
        "owner_id": str(uuid.uuid4()),
        "role_id": None,
        "sensitive": True,
        "created_at": "2026-11-30T00:00:00Z",
        "updated_at": None,
        "last_used_at": None,
    }


def test_list_envelopes_are_iterable_sized_and_indexable() -> None:
    page = SecretsPublic.model_validate({"data": [_secret("A"), _secret("B")], "count": 7})
    assert len(page) == 2
    assert [secret.name for secret in page] == ["A", "B"]
    assert page[1].name == "B"
    assert isinstance(page[0], SecretPublic)
    assert page.count == 7  # the server's total stays distinct from the page length
    assert page.model_dump()["count"] == 7
    empty = ServiceAliasesPublic.model_validate({"data": [], "count": 0})
    assert len(empty) == 0 and list(empty) == []


def test_unknown_fields_from_a_newer_server_are_kept() -> None:
    row = {**_secret("A"), "rotates_at": "2027-01-01T00:00:00Z"}
    secret = SecretPublic.model_validate(row)
    assert secret.model_extra == {"rotates_at": "2027-01-01T00:00:00Z"}
    assert secret.description is None


def test_constrained_optional_strings_are_plain_strings() -> None:
    secret = SecretPublic.model_validate({**_secret("A"), "description": "for tests"})
    assert secret.description == "for tests"
    assert type(secret.description) is str
