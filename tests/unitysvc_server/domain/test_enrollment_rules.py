"""Pure enrollment rules: codes, masking, activation checks."""

from __future__ import annotations

import uuid

import pytest

from unitysvc_server.demo.catalog import demo_services
from unitysvc_server.domain.enrollments import (
    CODE_ALPHABET,
    MASK,
    check_activation,
    mask_parameters,
    new_code,
    normalize_code,
)

SERVICES = {s.name: s for s in demo_services("http://127.0.0.1:9")}


def test_codes_are_four_crockford_characters() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 4 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert len(codes) > 190
    assert not set("ILOU") & set(CODE_ALPHABET)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("ab12", "AB12"), ("o1l1", "0111"), ("A-B-1-2", "AB12"), (" zz9z ", "ZZ9Z")],
)
def test_normalize_code_reads_crockford_spellings(raw: str, expected: str) -> None:
    assert normalize_code(raw) == expected


@pytest.mark.parametrize("raw", ["", "ABC", "ABCDE", "AB!2", "ABU2"])
def test_normalize_code_rejects_non_codes(raw: str) -> None:
    assert normalize_code(raw) is None


def test_mask_parameters() -> None:
    masked = mask_parameters(
        {
            "base_url": "http://x",
            "API_KEY": "sk-1",
            "access_token": "t",
            "db": {"password": "p", "host": "h"},
            "list": [{"client_secret": "c"}],
            "api_key_secret": "MY_KEY",
            "webhook_secret": "not a name!",
            "empty_token": "",
        }
    )
    assert masked == {
        "base_url": "http://x",
        "API_KEY": MASK,
        "access_token": MASK,
        "db": {"password": MASK, "host": "h"},
        "list": [{"client_secret": MASK}],
        "api_key_secret": "MY_KEY",
        "webhook_secret": MASK,
        "empty_token": "",
    }


def test_check_activation() -> None:
    byoe, echo = SERVICES["demo-byoe"], SERVICES["echo"]
    rid = uuid.uuid4()
    assert check_activation(byoe, {"base_url": "http://h:1/v1"}, "AB12", rid) is None
    assert check_activation(byoe, {"base_url": "http://h", "api_key_secret": "K"}, "AB12", rid) is (
        None
    )
    missing = check_activation(byoe, {}, "AB12", rid)
    assert missing is not None and "'base_url' is a required property" in missing
    bad_secret = check_activation(
        byoe, {"base_url": "http://h", "api_key_secret": "bad name"}, "AB12", rid
    )
    assert bad_secret is not None and "api_key_secret" in bad_secret
    smuggled = check_activation(byoe, {"base_url": "http://h/${ secrets.X }"}, "AB12", rid)
    assert smuggled is not None
    assert check_activation(echo, {}, "AB12", rid) is None
    assert "no enrollment parameters" in (check_activation(echo, {"a": 1}, "AB12", rid) or "")
    assert "not available" in (check_activation(None, {}, "AB12", rid) or "")


def test_the_status_names_are_the_contracts() -> None:
    from typing import get_args

    from unitysvc.models import RecurrentRequestStatusEnum, ServiceEnrollmentStatusEnum
    from unitysvc_server.domain import enrollments, recurrent_requests

    statuses = (
        enrollments.PENDING,
        enrollments.INCOMPLETE,
        enrollments.ACTIVE,
        enrollments.PAUSED,
        enrollments.CANCELLED,
    )
    assert set(statuses) == set(get_args(ServiceEnrollmentStatusEnum))
    transitions = recurrent_requests._TRANSITIONS
    assert set(transitions) == set(get_args(RecurrentRequestStatusEnum))
    assert set().union(*transitions.values()) == set(transitions)
