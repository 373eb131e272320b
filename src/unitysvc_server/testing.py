"""For tests: a real platform on loopback (``LocalPlatform``) and a throwaway database.

::

    from unitysvc_server.testing import LocalPlatform

    with LocalPlatform(demo=True) as platform:
        key = platform.create_customer("alice")
        with platform.client(key) as client:
            ...

:class:`LocalPlatform` lives in :mod:`unitysvc_server.local_platform` (``usvc demo`` runs
it too); it is importable from here, where tests and users have always imported it.
"""

from __future__ import annotations

from unitysvc_server.local_platform import (
    TEST_DATABASE_ENV,
    LocalPlatform,
    fresh_postgres_database,
    migrated_template,
    run_sync,
)

__all__ = [
    "TEST_DATABASE_ENV",
    "LocalPlatform",
    "fresh_postgres_database",
    "migrated_template",
    "run_sync",
]
