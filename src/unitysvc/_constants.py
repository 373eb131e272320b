"""Defaults and environment variable names."""

from __future__ import annotations

import re

#: The production control-plane URL.
DEFAULT_API_URL = "https://api.unitysvc.com/v1"

ENV_API_KEY = "UNITYSVC_API_KEY"
ENV_API_URL = "UNITYSVC_API_URL"
ENV_API_BASE_URL = "UNITYSVC_API_BASE_URL"
ENV_S3_BASE_URL = "UNITYSVC_S3_BASE_URL"
ENV_SMTP_BASE_URL = "UNITYSVC_SMTP_BASE_URL"
ENV_LOG = "UNITYSVC_LOG"
ENV_EXPERIMENTAL = "UNITYSVC_EXPERIMENTAL"
#: Bearer token clients of ``usvc mcp --http`` must send, when set.
ENV_MCP_TOKEN = "UNITYSVC_MCP_TOKEN"

#: Every customer key starts with this prefix.
API_KEY_PREFIX = "svcpass_"

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
#: First retry waits up to this long (full jitter), doubling per attempt.
INITIAL_RETRY_DELAY = 0.5
#: No single backoff sleep is longer than this.
MAX_RETRY_DELAY = 8.0
#: A server ``Retry-After`` longer than this is not waited for: the error is raised.
MAX_RETRY_AFTER = 60.0

#: A secret's name: uppercase letters, digits and underscores, not starting with a digit.
#: Here, not in :mod:`unitysvc.secrets`, so the server shares the rule without importing
#: the client (and httpx with it).
SECRET_NAME_PATTERN = re.compile(r"^[A-Z_][A-Z0-9_]*$")
