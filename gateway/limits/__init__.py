"""Rate limiting: the limiter service (an AppKey) and the backend factory.

The interface is ``gateway.limits.RateLimiter``; this package holds the
implementations and what the middleware and the chat route call.
"""

from __future__ import annotations

from aiohttp import web

from gateway.cluster.link import RedisLink
from gateway.limits.base import RateLimiter
from gateway.limits.memory import MemoryRateLimiter
from gateway.settings import Settings

LIMITER = web.AppKey("rate_limiter", RateLimiter)


def create_limiter(settings: Settings, link: RedisLink | None = None) -> RateLimiter:
    """Shared through Redis when the storage is (``link``: the store's); in-process otherwise."""
    if settings.storage.backend == "redis":
        from gateway.limits.redis import RedisRateLimiter

        return RedisRateLimiter.from_settings(settings, link)
    return MemoryRateLimiter()


__all__ = ["LIMITER", "MemoryRateLimiter", "create_limiter"]
