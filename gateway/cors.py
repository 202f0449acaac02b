"""CORS for browsers (the web UI): configured origins only, no credentials.

Set up after every route is registered, since aiohttp-cors adds a preflight
(OPTIONS) handler to each resource. A disallowed origin gets no CORS headers.
"""

from __future__ import annotations

import aiohttp_cors
from aiohttp import web

from gateway.settings import Settings
from gateway.stamps import ORIGIN_HOOKS

ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-API-Key",
    "X-Request-ID",
    "X-Gateway-Provider",
)
EXPOSED_HEADERS = (
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Gateway-Provider",
    "Retry-After",
)


def setup_cors(app: web.Application, settings: Settings) -> None:
    options = aiohttp_cors.ResourceOptions(  # type: ignore[no-untyped-call]
        allow_credentials=False,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_methods="*",
        max_age=settings.cors.max_age_s,
    )
    hooks = len(app.on_response_prepare)
    cors = aiohttp_cors.setup(
        app, defaults={origin: options for origin in settings.allowed_origins}
    )
    for resource in list(app.router.resources()):
        cors.add(resource)
    # aiohttp-cors's response hook does nothing for requests without Origin (most API
    # calls come from servers): run it from the stamps hook, only for those with one.
    app[ORIGIN_HOOKS].append(app.on_response_prepare.pop(hooks))
