"""The rate-limit step and the X-RateLimit-* headers; the policy is gateway.limits.policy.

Every request is counted before its handler runs. The headers are stamped by a
response stamp (see response_stamps), so streamed and error responses carry them too.
"""

from __future__ import annotations

import math

from aiohttp import web

from gateway.endpoints import Check, RouteInfo
from gateway.keys.principal import PRINCIPAL
from gateway.limits.policy import RATE_DECISION, admit


def rate_limit_check() -> Check:
    """The rate-limit step: counts the request, or raises 429 (CORS preflights are free)."""

    async def rate_limit(request: web.Request, info: RouteInfo | None) -> None:
        if request.method != "OPTIONS":
            group = info.group if info is not None else "default"
            await admit(request, group, request.get(PRINCIPAL))

    return rate_limit


def stamp_rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Response stamp: X-RateLimit-* on every response that was counted."""
    decision = request.get(RATE_DECISION)
    if decision is None:
        return
    headers = response.headers
    headers["X-RateLimit-Limit"] = str(decision.limit)
    headers["X-RateLimit-Remaining"] = str(decision.remaining)
    headers["X-RateLimit-Reset"] = str(math.ceil(decision.reset_s))
