"""The wire form of a secret, built without ``model_construct``, is the one it builds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

from cryptography.fernet import Fernet

from unitysvc.models import SecretPublic, SecretsPublic
from unitysvc_server.crypto import SecretBox
from unitysvc_server.domain.secrets import _public, _trusted


def _row(*, sensitive: bool, shared: bool, crypto: SecretBox) -> SimpleNamespace:
    return SimpleNamespace(
        id=uuid.uuid4(),
        name="OPENAI_API_KEY",
        description="the key",
        shared=shared,
        sensitive=sensitive,
        value_encrypted=crypto.encrypt("sk-clear"),
        created_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        updated_at=None,
        last_used_at=datetime(2026, 2, 3, tzinfo=UTC),
    )


def test_a_built_secret_equals_the_one_model_construct_builds() -> None:
    crypto = SecretBox(Fernet.generate_key())
    customer = uuid.uuid4()
    for sensitive in (True, False):
        for shared in (True, False):
            row = _row(sensitive=sensitive, shared=shared, crypto=crypto)
            built = _public(row, crypto, customer)
            expected = SecretPublic.model_construct(
                name=row.name,
                description=row.description,
                id=row.id,
                owner_type="customer",
                role_id=None,
                owner_id=None if shared else customer,
                sensitive=sensitive,
                value=None if sensitive else "sk-clear",
                created_at=row.created_at,
                updated_at=None,
                last_used_at=row.last_used_at,
            )
            assert built == expected
            assert built.model_fields_set == expected.model_fields_set
            assert built.__pydantic_extra__ == expected.__pydantic_extra__
            assert built.model_dump_json() == expected.model_dump_json()
            assert SecretPublic.model_validate_json(built.model_dump_json()) == expected


def test_a_built_list_serializes_as_a_validated_one() -> None:
    crypto = SecretBox(Fernet.generate_key())
    row = _row(sensitive=True, shared=False, crypto=crypto)
    item = _public(row, crypto, uuid.uuid4())
    built = _trusted(SecretsPublic, {"data": [item], "count": 1})
    assert built.model_dump_json() == SecretsPublic(data=[item], count=1).model_dump_json()


def test_a_partial_set_of_fields_falls_back_to_model_construct() -> None:
    built = _trusted(SecretsPublic, {"data": []})
    assert built.model_fields_set == {"data"}
    assert built.model_dump() == SecretsPublic.model_construct(data=[]).model_dump()
