"""The rate-limiter interface; in-process and Redis implementations plug in behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request against one limit, with what the headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    """Seconds until the limit is full again (X-RateLimit-Reset)."""
    retry_after_s: float
    """Seconds until one more request would be allowed (Retry-After); 0 when allowed."""


class RateLimiter(Protocol):
    """Requests per window, and tokens per minute, per key."""

    async def hit(self, key: str, limit: int, window_s: float = 60.0) -> Decision:
        """Count one request for ``key``; refuse at once (never queue) when over ``limit``."""

    async def add_tokens(self, key: str, tokens: int) -> None:
        """Record tokens an upstream reported as used by ``key`` (rolling minute)."""

    async def tokens_used(self, key: str) -> int:
        """Tokens recorded for ``key`` in the last minute."""

    async def close(self) -> None: ...
