"""The in-process rate limiter: GCRA, one aiolimiter leaky bucket per key and limit.

Each process counts on its own; a multi-process deployment shares counts through
the Redis limiter instead, which counts here too while Redis is unreachable and
``rate_limit.fail_open`` is set. Tokens are a sliding minute of (time, tokens)
entries. Idle buckets are swept so memory follows the number of active clients,
not of all clients ever seen.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

from aiolimiter import AsyncLimiter

from gateway.limits.base import Decision

TOKEN_WINDOW_S = 60.0
SWEEP_INTERVAL_S = 60.0


class _TokenWindow:
    """Token counts over a sliding minute: (time, tokens) entries and their sum."""

    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: deque[tuple[float, int]] = deque()
        self.total = 0

    def expire(self, now: float) -> None:
        horizon = now - TOKEN_WINDOW_S
        while self.entries and self.entries[0][0] <= horizon:
            self.total -= self.entries.popleft()[1]


class MemoryRateLimiter:
    """RateLimiter for one process (see gateway.limits.base for the shared semantics)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, int, float], AsyncLimiter] = {}
        self._tokens: dict[str, _TokenWindow] = {}
        self._sweep_at = 0.0

    async def hit(self, key: str, limit: int, window_s: float = 60.0) -> Decision:
        now = asyncio.get_running_loop().time()
        if now >= self._sweep_at:
            self._sweep(now)
        bucket_key = (key, limit, window_s)
        bucket = self._buckets.get(bucket_key)
        if bucket is None:
            bucket = self._buckets[bucket_key] = AsyncLimiter(limit, window_s)
        rate = limit / window_s
        # has_capacity() and acquire() run without yielding in between when
        # there is capacity, so two concurrent requests cannot both take the last slot.
        if bucket.has_capacity():
            await bucket.acquire()
            level = self._level(bucket)
            return Decision(
                allowed=True,
                limit=limit,
                remaining=max(0, math.floor(limit - level + 1e-9)),
                reset_s=level / rate,
                retry_after_s=0.0,
            )
        level = self._level(bucket)
        return Decision(
            allowed=False,
            limit=limit,
            remaining=0,
            reset_s=level / rate,
            retry_after_s=max(0.0, (level + 1 - limit) / rate),
        )

    async def add_tokens(self, key: str, tokens: int) -> None:
        if tokens <= 0:
            return
        window = self._tokens.get(key)
        if window is None:
            window = self._tokens[key] = _TokenWindow()
        window.entries.append((asyncio.get_running_loop().time(), tokens))
        window.total += tokens

    async def tokens_used(self, key: str) -> int:
        window = self._tokens.get(key)
        if window is None:
            return 0
        window.expire(asyncio.get_running_loop().time())
        return window.total

    @staticmethod
    def _level(bucket: AsyncLimiter) -> float:
        # aiolimiter keeps the bucket's fill level private; the headers need it.
        return float(bucket._level)

    def _sweep(self, now: float) -> None:
        """Forget buckets that have drained completely and empty token windows."""
        self._sweep_at = now + SWEEP_INTERVAL_S
        for bucket_key, bucket in list(self._buckets.items()):
            if bucket.has_capacity(bucket.max_rate):
                del self._buckets[bucket_key]
        for key, window in list(self._tokens.items()):
            window.expire(now)
            if not window.entries:
                del self._tokens[key]
