"""The unit-of-work handles ``api`` and ``gateway`` pass into domain use cases.

Re-exported from storage so that the rooms above domain name a session without
importing storage or SQLAlchemy: they open one (``async with sessions() as session``)
or receive one (the API's per-request session) and hand it to domain; only
:mod:`unitysvc_server.storage.queries` runs statements through it.
"""

from __future__ import annotations

from unitysvc_server.storage.errors import Duplicate
from unitysvc_server.storage.session import Session, Sessions

__all__ = ["Duplicate", "Session", "Sessions"]
