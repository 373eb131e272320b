"""Wire models: list envelopes behave as sequences, unknown fields are kept."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Literal, get_args, get_origin

import pytest

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


def test_every_exported_model_resolves_from_the_package_and_its_resource_module() -> None:
    import unitysvc.models as models

    for name in models.__all__:
        exported = getattr(models, name)
        if get_origin(exported) is Literal:  # a named enum of the contract
            assert name.endswith("Enum") or name == "GatewayKind"
        else:
            assert exported.__name__ == name
            assert issubclass(exported, models.WireModel)
        assert name in dir(models)
    assert models.SecretsPublic.__module__ == "unitysvc.models.secrets"
    assert models.AccessInterface.__module__ == "unitysvc.models.common"


def test_an_unknown_model_name_is_an_attribute_error_naming_it() -> None:
    import unitysvc.models as models

    with pytest.raises(AttributeError, match="SecretList"):
        models.SecretList  # noqa: B018


def _fresh_interpreter(code: str) -> str:
    """What ``code`` prints in a new interpreter (this one has imported everything)."""
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return done.stdout


def test_a_resource_builds_only_its_own_models() -> None:
    # A fresh interpreter: this one has imported every model already.
    code = (
        "import sys\n"
        "from unitysvc.models import SecretsPublic\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('unitysvc.models.'))\n"
        "print(' '.join(loaded))\n"
    )
    assert _fresh_interpreter(code).split() == ["unitysvc.models._base", "unitysvc.models.secrets"]


def test_the_contract_enums_are_named_and_the_sdk_agrees_with_them() -> None:
    from unitysvc.enrollments import SETTLED_STATUSES
    from unitysvc.models import GatewayKind, ServiceEnrollmentStatusEnum
    from unitysvc.models.enrollments import CustomerEnrollment
    from unitysvc.resolve import GATEWAYS

    assert get_args(GatewayKind) == GATEWAYS
    assert set(get_args(ServiceEnrollmentStatusEnum)) > SETTLED_STATUSES
    assert "pending" not in SETTLED_STATUSES
    status = CustomerEnrollment.model_fields["status"].annotation
    assert ServiceEnrollmentStatusEnum in get_args(status) or status == ServiceEnrollmentStatusEnum


def test_the_wire_models_come_without_the_client() -> None:
    # The server imports the wire models (and the package's version) only; httpx and
    # httpx's own CLI (rich, click, pygments) were a tenth of its start-up.
    code = (
        "import sys\n"
        "import unitysvc\n"
        "from unitysvc.models import SecretsPublic\n"
        "print(' '.join(m for m in ('httpx', 'unitysvc._client', 'rich', 'click') "
        "if m in sys.modules) or 'none')\n"
        "print(unitysvc.Client.__module__, unitysvc.NOT_GIVEN)\n"
    )
    assert _fresh_interpreter(code).splitlines() == ["none", "unitysvc._client NOT_GIVEN"]
