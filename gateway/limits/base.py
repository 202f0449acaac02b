"""The rate-limiter interface, its decision, and the AppKey the limiter is found under.

Every backend counts the same way within a window, so the headers mean the same
thing on one process or many: ``limit`` requests in quick succession are allowed
with ``remaining`` going ``limit - 1, ..., 0``, and the next one is refused
without being counted. Where they differ is how capacity comes back:

- ``MemoryRateLimiter`` (gateway.limits.memory, one process): GCRA, a leaky
  bucket that drains continuously, so after a full burst one more request is
  allowed every ``window_s / limit`` seconds.
- ``RedisRateLimiter`` (gateway.limits.redis, every instance): a sliding-window
  log, so a slot frees when the request that took it is ``window_s`` old.

Tokens per minute are a sliding 60-second sum on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiohttp import web


@dataclass(slots=True)  # not frozen: made per request; a frozen __init__ costs 2x
class Decision:
    """The outcome of one request against one limit, with what the headers report."""

    allowed: bool
    limit: int
    remaining: int
    """Whole requests still allowed right now, after this one (X-RateLimit-Remaining)."""
    reset_s: float
    """Seconds until the limit is full again (X-RateLimit-Reset)."""
    retry_after_s: float
    """Seconds until one more request would be allowed (Retry-After); 0 when allowed."""


class RateLimiter(Protocol):
    """Requests per window, and tokens per minute, per key."""

    async def hit(self, key: str, limit: int, window_s: float = 60.0) -> Decision:
        """Count one request for ``key``; refuse at once (never queue) when over ``limit``.

        A refused request is not counted, so a client that waits ``retry_after_s``
        is allowed.
        """

    async def add_tokens(self, key: str, tokens: int) -> None:
        """Record tokens an upstream reported as used by ``key`` (rolling minute)."""

    async def tokens_used(self, key: str) -> int:
        """Tokens recorded for ``key`` in the last 60 seconds (a sliding window)."""


LIMITER = web.AppKey("rate_limiter", RateLimiter)
