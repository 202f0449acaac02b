"""CORS for browsers (the web UI): configured origins only, no credentials.

Set up after every route is registered, since aiohttp-cors adds a preflight
(OPTIONS) handler to each resource. A disallowed origin gets no CORS headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp_cors
from aiohttp import hdrs, web

from gateway.settings import Settings

ResponseHook = Callable[[web.Request, web.StreamResponse], Awaitable[object]]
ORIGIN = hdrs.ORIGIN

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
    app.on_response_prepare[hooks] = _only_with_origin(app.on_response_prepare[hooks])


def _only_with_origin(hook: ResponseHook) -> ResponseHook:
    """aiohttp-cors's response hook, skipped for requests without Origin (it would do nothing).

    Most API calls come from servers, not browsers; this spares them three
    route lookups per response.
    """

    async def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
        if ORIGIN in request.headers:
            await hook(request, response)

    return cors_headers
