"""What building the server imports: each server process (and each ``--workers`` worker
before the fork) pays for it at start-up, so what only some requests need waits for them."""

from __future__ import annotations

import subprocess
import sys

#: Modules a server start has no use for: the SDK's client stack, and jsonschema (with
#: attrs and referencing), which only an enrollment with a parameters schema needs.
NOT_AT_START = ("httpx", "unitysvc._client", "rich", "click", "jsonschema", "attr")


def test_building_the_app_leaves_what_only_some_requests_need() -> None:
    code = (
        "import sys\n"
        "from unitysvc_server.app import create_app\n"
        "from unitysvc_server.config import Settings\n"
        "create_app(Settings(database_url='sqlite+aiosqlite://'))\n"
        f"print(' '.join(m for m in {NOT_AT_START!r} if m in sys.modules) or 'none')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "none"


def test_an_enrollment_schema_is_still_checked_once_jsonschema_is_needed() -> None:
    from unitysvc_server.domain.enrollments import _schema_errors

    schema = {
        "type": "object",
        "required": ["region"],
        "properties": {"region": {"type": "string"}},
    }
    assert _schema_errors(schema, {}) == ["parameters: 'region' is a required property"]
    assert _schema_errors(schema, {"region": 3}) == ["parameters.region: 3 is not of type 'string'"]
    assert _schema_errors(schema, {"region": "eu"}) == []
