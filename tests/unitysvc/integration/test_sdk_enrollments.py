"""Enrollment lifecycle through the SDK (BYOE to a loopback upstream)."""

from __future__ import annotations

from typing import Any


def test_byoe_enrollment_activates_and_dispatches(client: Any, demo_service: Any) -> None:
    byoe = demo_service("demo-byoe")
    echo = demo_service("echo")
    echo_upstream = echo.interfaces()[0].base_url
    enrollment = byoe.enroll(parameters={"base_url": echo_upstream})
    assert enrollment.status == "pending"
    settled = enrollment.wait(timeout=20)
    assert settled.status == "active", settled.record
    assert settled.code and len(settled.code) == 4
    listed = client.enrollments.list()
    assert settled.id in {e.id for e in listed}
    cancel = settled.cancel()
    assert cancel.status == "cancelled"
    assert client.enrollments.get(settled.id).status == "cancelled"
