"""The middleware chain, in order, in one place.

request id, access log and timing (one middleware: access_log) -> error mapping
-> body size -> auth -> rate limit -> handler. Security headers and the echoed X-Request-ID are stamped
by an on_response_prepare hook (see security_headers) so streams get them too.
"""

from __future__ import annotations

from aiohttp.typedefs import Middleware

from gateway.middleware.access_log import access_log_middleware
from gateway.middleware.auth import auth_middleware
from gateway.middleware.body_limit import body_limit_middleware
from gateway.middleware.errors import error_middleware
from gateway.middleware.rate_limit import rate_limit_middleware
from gateway.settings import Settings


def build_chain(settings: Settings) -> list[Middleware]:
    return [
        access_log_middleware,
        error_middleware,
        body_limit_middleware(settings.body_limits),
        auth_middleware(settings),
        rate_limit_middleware(settings),
    ]
