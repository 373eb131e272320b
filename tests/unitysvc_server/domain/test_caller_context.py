"""The caller context: personal secrets shadow shared ones, codes read in any spelling."""

from __future__ import annotations

import uuid

from unitysvc_server.domain.caller_context import CallerContext, SecretRef
from unitysvc_server.storage.tables.enrollments import EnrollmentRow


def _secret(name: str, *, shared: bool, value: str) -> SecretRef:
    return SecretRef(uuid.uuid4(), name, shared, value, None)


def _enrollment(service_id: uuid.UUID, code: str) -> EnrollmentRow:
    return EnrollmentRow(
        id=uuid.uuid4(), customer_id=uuid.uuid4(), service_id=service_id, code=code, status="active"
    )


def test_a_personal_secret_shadows_the_shared_one_whatever_the_order() -> None:
    shared = _secret("KEY", shared=True, value="team")
    personal = _secret("KEY", shared=False, value="mine")
    for rows in ((shared, personal), (personal, shared)):
        context = CallerContext(secrets=rows, enrollments=())
        assert context.secret("KEY") is personal
    only_shared = CallerContext(
        secrets=(shared, _secret("B", shared=False, value="b")), enrollments=()
    )
    assert only_shared.secret("KEY") is shared
    assert only_shared.secret("MISSING") is None
    assert only_shared.secret_names == {"KEY", "B"}


def test_enrollments_by_service_oldest_first_and_by_code_in_any_spelling() -> None:
    service = uuid.uuid4()
    older, newer = _enrollment(service, "0A1B"), _enrollment(service, "2C3D")
    context = CallerContext(secrets=(), enrollments=(older, newer))
    assert context.enrollment_in(service) is older
    assert context.enrollment_in(uuid.uuid4()) is None
    assert context.enrolled_service_ids == {service}
    assert context.enrollment_by_code("oa1b") is older  # O reads as 0, case ignored
    assert context.enrollment_by_code("2c-3d") is newer
    assert context.enrollment_by_code("9999") is None
    assert context.enrollment_by_code("not a code") is None


def test_a_secret_reference_never_shows_its_value() -> None:
    ref = _secret("KEY", shared=False, value="gAAAA-ciphertext")
    assert "gAAAA" not in repr(ref)
    assert "gAAAA" not in repr(CallerContext(secrets=(ref,), enrollments=()))
