"""The middleware chain, in order, in one place.

Outermost first; each arrow is one step, and the steps run in this order:

1. access_log (one frame): request id -> timing -> error mapping (errors.error_for)
   -> access line and request metrics when the answer is known.
2. admission (one frame, below): route lookup -> body size (body_limit) -> auth
   -> rate limit.
3. the handler.

Six middlewares became two frames because every coroutine frame costs on every
request; the steps keep their modules and their order. Security headers and the
echoed X-Request-ID are stamped by a response stamp (see response_stamps and
security_headers) so streams get them too.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.middleware.access_log import access_log_middleware
from gateway.middleware.auth import auth_check
from gateway.middleware.body_limit import body_limit_check
from gateway.middleware.rate_limit import rate_limit_check
from gateway.routes.table import route_info
from gateway.settings import Settings


def admission_middleware(settings: Settings) -> Middleware:
    """Body size, then auth, then rate limit, on one route lookup."""
    body_limit = body_limit_check(settings.body_limits)
    auth = auth_check(settings)
    rate_limit = rate_limit_check(settings)

    @web.middleware
    async def admission(request: web.Request, handler: Handler) -> web.StreamResponse:
        info = route_info(request)
        request = body_limit(request, info)
        await auth(request, info)
        await rate_limit(request, info)
        return await handler(request)

    return admission


def build_chain(settings: Settings) -> list[Middleware]:
    return [access_log_middleware, admission_middleware(settings)]
