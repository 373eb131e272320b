"""The interface-pick rules of services.dispatch / stream / schedule."""

from __future__ import annotations

from uuid import uuid4

import pytest

from unitysvc.models import AccessInterface
from unitysvc.services import pick_interface

SHARED_A = AccessInterface(name="canonical", base_url="http://gw/p/a")
SHARED_B = AccessInterface(name="latest", base_url="http://gw/p/b")


def bound(name: str) -> AccessInterface:
    return AccessInterface(name=name, base_url=f"http://gw/e/{name}", enrollment_id=uuid4())


def test_no_interfaces_is_an_error() -> None:
    with pytest.raises(ValueError, match="no interface"):
        pick_interface([])


def test_explicit_interface_by_name_wins() -> None:
    mine = bound("mine")
    assert pick_interface([SHARED_A, mine], interface="canonical") is SHARED_A
    assert pick_interface([SHARED_A, mine], interface=mine) is mine


def test_unknown_interface_names_the_choices() -> None:
    with pytest.raises(ValueError, match="'canonical', 'latest'"):
        pick_interface([SHARED_A, SHARED_B], interface="nope")


def test_enrollment_hint_picks_its_interface() -> None:
    one, two = bound("one"), bound("two")
    assert pick_interface([SHARED_A, one, two], enrollment=str(two.enrollment_id)) is two


def test_enrollment_hint_ignored_with_a_single_interface() -> None:
    assert pick_interface([SHARED_A], enrollment=str(uuid4())) is SHARED_A


def test_enrollment_hint_without_match_is_an_error() -> None:
    with pytest.raises(ValueError, match="no interface is bound"):
        pick_interface([SHARED_A, bound("x")], enrollment=str(uuid4()))


def test_single_bound_interface_beats_shared() -> None:
    mine = bound("mine")
    assert pick_interface([SHARED_A, mine, SHARED_B]) is mine


def test_two_bound_interfaces_are_ambiguous_and_named() -> None:
    with pytest.raises(ValueError, match="'one'.*'two'"):
        pick_interface([bound("one"), bound("two")])


def test_first_shared_interface_otherwise() -> None:
    assert pick_interface([SHARED_B, SHARED_A]) is SHARED_B
