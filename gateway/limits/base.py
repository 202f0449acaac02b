"""The rate-limiter interface; in-process and Redis implementations plug in behind it.

Semantics every implementation keeps, so the headers mean the same thing on
one process or many: each (key, limit, window) is a bucket holding ``limit``
requests that refills continuously at ``limit / window_s`` per second (a leaky
bucket, GCRA). A burst of ``limit`` requests is allowed at once; after that one
more request is allowed every ``window_s / limit`` seconds. Counts are exact:
``limit`` requests in quick succession are allowed with ``remaining`` going
``limit - 1, ..., 0``, and the next one is refused without being counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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

    async def close(self) -> None: ...
