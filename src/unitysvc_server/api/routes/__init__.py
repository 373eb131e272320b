"""Every control-plane router, mounted under ``/v1`` by :func:`unitysvc_server.app.create_app`.

The list is explicit (no discovery) so the mounted surface is reviewable in one
place; add a router by appending it here.
"""

from __future__ import annotations

from fastapi import APIRouter

from unitysvc_server.api.routes import (
    admin,
    aliases,
    broadcasts,
    budgets,
    chains,
    enrollments,
    files,
    groups,
    preferences,
    recurrent_requests,
    request_logs,
    route_preview,
    secrets,
    services,
    usage,
)

ROUTERS: list[APIRouter] = [
    secrets.router,
    aliases.router,
    chains.router,
    broadcasts.router,
    recurrent_requests.router,
    request_logs.router,
    files.router,
    groups.router,
    services.router,
    enrollments.router,
    route_preview.router,
    preferences.router,
    usage.router,
    budgets.router,
    admin.router,
]
