"""Rate limiting: the interface and its backends, and the policy of who gets which limit.

- ``base``: the ``RateLimiter`` interface, ``Decision`` and the ``LIMITER`` AppKey.
- ``memory``: the in-process limiter (GCRA); ``redis``: the one shared by every
  instance (a sliding-window log), which falls back to the in-process one.
- ``policy``: which limit applies to whom, tokens per minute, failed-auth
  charging and the 429s; the middleware and the routes call it.
"""

from __future__ import annotations

from gateway.cluster.client import Redis
from gateway.cluster.link import RedisLink
from gateway.limits.base import LIMITER, Decision, RateLimiter
from gateway.limits.memory import MemoryRateLimiter
from gateway.limits.policy import (
    RATE_POLICY,
    RatePolicy,
    charge_failed_auth,
    check_tokens_per_minute,
    record_tokens,
)
from gateway.settings import Settings


def create_limiter(
    settings: Settings, client: Redis | None = None, link: RedisLink | None = None
) -> RateLimiter:
    """Shared through ``client`` (the worker's Redis, with the store's ``link``) when the
    storage is Redis; in-process otherwise."""
    if client is not None:
        from gateway.limits.redis import RedisRateLimiter

        return RedisRateLimiter(
            client,
            settings.storage.redis_timeout_s,
            fail_open=settings.rate_limit.fail_open,
            link=link,
        )
    return MemoryRateLimiter()


__all__ = [
    "LIMITER",
    "RATE_POLICY",
    "Decision",
    "MemoryRateLimiter",
    "RateLimiter",
    "RatePolicy",
    "charge_failed_auth",
    "check_tokens_per_minute",
    "create_limiter",
    "record_tokens",
]
