"""Rate limiting: the limiter service (an AppKey) and the backend factory.

The interface is ``gateway.limits.RateLimiter``; this package holds the
implementations and what the middleware and the chat route call.
"""

from __future__ import annotations

from aiohttp import web

from gateway.limiting.memory import MemoryRateLimiter
from gateway.limits import RateLimiter
from gateway.settings import Settings

LIMITER = web.AppKey("rate_limiter", RateLimiter)


def create_limiter(settings: Settings) -> RateLimiter:
    """The in-process limiter; the Redis backend adds its branch here."""
    return MemoryRateLimiter()


__all__ = ["LIMITER", "MemoryRateLimiter", "create_limiter"]
