"""End to end: writing a request log never holds up the response.

The database is locked for writing from outside the server (an SQLite ``BEGIN
IMMEDIATE``) while a logged call runs. The response must arrive all the same — if the
gateway wrote the row before answering, the call would wait on the lock until the client's
timeout — and the row must appear once the lock is released.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
from gateway_helpers import FakeUpstream, wait_for

from unitysvc_server.testing import LocalPlatform


def test_logged_call_answers_while_the_log_table_is_locked(
    tmp_path: Path, fake: FakeUpstream, marker: str
) -> None:
    db_file = tmp_path / "unitysvc.db"
    with LocalPlatform(
        demo=True,
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{db_file}",
    ) as platform:
        echo = str(platform.app.runtime.catalog.service_by_name("echo").id)
        key = platform.create_customer("log-delivery")
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=platform.gateway_url, headers=headers, timeout=5) as gateway:
            # Warm the key cache so the call below reads nothing it has not read before.
            assert gateway.post(f"/p/{echo}/warm", json={}).status_code == 200
            lock = sqlite3.connect(db_file, timeout=10, isolation_level=None)
            try:
                lock.execute("BEGIN IMMEDIATE")  # every writer now waits for us
                response = gateway.post(f"/l/p/{echo}/{marker}", json={"q": marker})
                assert response.status_code == 200
                assert marker in response.text
                # Still locked: the row cannot be there yet.
                count = lock.execute(
                    "SELECT count(*) FROM request_logs WHERE path LIKE ?",
                    (f"%{marker}%",),
                ).fetchone()[0]
                assert count == 0
            finally:
                lock.execute("ROLLBACK")
                lock.close()
        with httpx.Client(base_url=platform.api_url, headers=headers) as api:

            def logged() -> bool:
                page = api.get("/request-logs", params={"limit": 200}).json()
                return any(marker in item["user_request_path"] for item in page["items"])

            wait_for(logged, what="the row written after the lock was released")
