"""GET /api/v1/health: liveness for people and load balancers."""

from __future__ import annotations

import os
import time

from aiohttp import web

from gateway import __version__
from gateway.endpoints import Operation, add_route
from gateway.health.state import PROVIDER_HEALTH
from gateway.providers.registry import PROVIDERS
from gateway.state import LIFECYCLE, STORAGE

HEALTH_SCHEMA = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "draining"]},
        "version": {"type": "string"},
        "uptime_s": {"type": "number"},
        "pid": {"type": "integer", "description": "The serving process (one of --workers N)"},
        "providers": {
            "type": "object",
            "description": "How many providers there are, counted by health status",
            "properties": {
                "total": {"type": "integer"},
                "healthy": {"type": "integer"},
                "unhealthy": {"type": "integer"},
                "degraded": {"type": "integer"},
                "unknown": {"type": "integer"},
            },
        },
        "storage": {
            "type": "object",
            "properties": {
                "backend": {"type": "string"},
                "healthy": {"type": "boolean"},
                "error": {"type": ["string", "null"]},
            },
        },
    },
}


async def health(request: web.Request) -> web.Response:
    lifecycle = request.app[LIFECYCLE]
    if lifecycle.draining.is_set():
        return web.json_response({"status": "draining"}, status=503)
    storage = request.app[STORAGE].status()
    providers = request.app[PROVIDER_HEALTH].summary(p.id for p in request.app[PROVIDERS].all())
    return web.json_response(
        {
            # degraded: still serving from the last snapshot, but writes and sharing are down
            "status": "ok" if storage.healthy else "degraded",
            "version": __version__,
            "uptime_s": round(time.monotonic() - lifecycle.started_at, 3),
            "pid": os.getpid(),
            "providers": providers,
            "storage": {
                "backend": storage.backend,
                "healthy": storage.healthy,
                "error": storage.error,
            },
        }
    )


def setup(app: web.Application) -> None:
    add_route(
        app,
        "GET",
        "/api/v1/health",
        health,
        group="public",
        operation=Operation(
            summary="Gateway health",
            tag="health",
            responses={
                200: {"description": "Serving", "schema": HEALTH_SCHEMA},
                503: {"description": "Draining before shutdown", "schema": HEALTH_SCHEMA},
            },
        ),
    )
