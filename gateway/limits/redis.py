"""A RateLimiter shared by every gateway instance: one atomic Lua script per request.

Requests: a sliding-window log per key (a sorted set of request times, Redis's
own clock), so counts are exact across instances and a slot frees when the
request that took it is a window old. Tokens: per-second buckets in a hash,
summed over the last minute. When Redis cannot be reached within
``storage.redis_timeout_s``, ``rate_limit.fail_open`` decides: count in this
process with the in-process limiter (gateway.limits.memory, GCRA) instead
(true, the default) or refuse with 503 (false). After a failure
Redis is retried with backoff, so an outage does not cost every request a timeout;
the RedisLink shared with the store skips Redis as soon as either found it hanging.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import cast

from gateway.cluster.client import TIMEOUTS, UNREACHABLE, Redis, bounded, describe
from gateway.cluster.link import RedisLink
from gateway.errors import ServiceUnavailable
from gateway.limits.base import Decision
from gateway.limits.memory import MemoryRateLimiter

logger = logging.getLogger("gateway.limits.redis")

PREFIX = "gw:rl:"
TPM_PREFIX = "gw:tpm:"
RETRY_START_S = 0.5
RETRY_MAX_S = 5.0

# KEYS: log. ARGV: limit, window_ms, member.
# Returns {allowed, count, ms until the oldest entry expires, ms until the newest does}.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  count = count + 1
  allowed = 1
end
if count > 0 then
  redis.call('PEXPIRE', KEYS[1], window)
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  local newest = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
  return {allowed, count, oldest + window - now, newest + window - now}
end
return {allowed, count, 0, 0}
"""
# KEYS: buckets. ARGV: tokens.
_ADD_TOKENS = """
local now = redis.call('TIME')[1]
redis.call('HINCRBY', KEYS[1], now, ARGV[1])
redis.call('EXPIRE', KEYS[1], 61)
return 1
"""
# KEYS: buckets. Returns the tokens of the last 60 seconds, dropping older buckets.
_TOKENS_USED = """
local now = tonumber(redis.call('TIME')[1])
local buckets = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #buckets, 2 do
  if tonumber(buckets[i]) > now - 60 then
    total = total + tonumber(buckets[i + 1])
  else
    redis.call('HDEL', KEYS[1], buckets[i])
  end
end
return total
"""

REFUSED_MESSAGE = (
    "Rate limiting is unavailable because the shared store (Redis) is unreachable, and this "
    "gateway is configured to refuse requests then (rate_limit.fail_open: false). Try again "
    "shortly."
)


class RedisRateLimiter:
    """RateLimiter on Redis, exact across instances; degrades as ``fail_open`` says.

    ``client`` is the worker's one Redis client (gateway.cluster.client.REDIS): its
    owner closes it, so this limiter has nothing to close.
    """

    def __init__(
        self,
        client: Redis,
        timeout_s: float,
        *,
        fail_open: bool = True,
        clock: Callable[[], float] = time.monotonic,
        link: RedisLink | None = None,
    ) -> None:
        self.client = client
        self.link = link if link is not None else RedisLink()
        self.timeout_s = timeout_s
        self.fail_open = fail_open
        self.healthy = True
        self.last_error: str | None = None
        self._clock = clock
        self._fallback = MemoryRateLimiter()
        self._hit = client.register_script(_HIT)
        self._add_tokens = client.register_script(_ADD_TOKENS)
        self._tokens_used = client.register_script(_TOKENS_USED)
        self._sequence = 0
        self._instance = f"{id(self):x}{time.time_ns():x}"
        self._retry_at = 0.0
        self._retry_delay = RETRY_START_S

    async def hit(self, key: str, limit: int, window_s: float = 60.0) -> Decision:
        if self._available():
            self._sequence += 1
            member = f"{self._instance}:{self._sequence}"
            try:
                result = await bounded(
                    self._hit(keys=[PREFIX + key], args=[limit, int(window_s * 1000), member]),
                    self.timeout_s,
                )
            except UNREACHABLE as exc:
                self._failed(exc)
            else:
                self._succeeded()
                allowed, count, oldest_ms, newest_ms = cast(list[int], result)
                return Decision(
                    allowed=bool(allowed),
                    limit=limit,
                    remaining=max(limit - int(count), 0),
                    reset_s=max(int(newest_ms), 0) / 1000,
                    retry_after_s=0.0 if allowed else max(int(oldest_ms), 0) / 1000,
                )
        self._refuse_unless_fail_open()
        return await self._fallback.hit(key, limit, window_s)

    async def add_tokens(self, key: str, tokens: int) -> None:
        if tokens <= 0:
            return
        if self._available():
            try:
                await bounded(
                    self._add_tokens(keys=[TPM_PREFIX + key], args=[tokens]), self.timeout_s
                )
            except UNREACHABLE as exc:
                self._failed(exc)
            else:
                self._succeeded()
                return
        # The response is already served: record locally whatever fail_open says.
        await self._fallback.add_tokens(key, tokens)

    async def tokens_used(self, key: str) -> int:
        if self._available():
            try:
                result = await bounded(self._tokens_used(keys=[TPM_PREFIX + key]), self.timeout_s)
            except UNREACHABLE as exc:
                self._failed(exc)
            else:
                self._succeeded()
                return int(cast(int, result))
        self._refuse_unless_fail_open()
        return await self._fallback.tokens_used(key)

    def _available(self) -> bool:
        if self.healthy and self.link.hung:  # the store found Redis hanging first
            self.healthy = False
            self.last_error = "redis unreachable: a call timed out"
            self._retry_delay = RETRY_START_S
            self._retry_at = self._clock() + self._retry_delay
        return self.healthy or self._clock() >= self._retry_at

    def _failed(self, exc: BaseException) -> None:
        self.link.failed(isinstance(exc, TIMEOUTS))
        if self.healthy:
            logger.warning("shared rate limits unavailable, Redis unreachable: %s", describe(exc))
            self._retry_delay = RETRY_START_S
        else:
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)
        self.healthy = False
        self.last_error = f"redis unreachable: {describe(exc)}"
        self._retry_at = self._clock() + self._retry_delay

    def _succeeded(self) -> None:
        self.link.succeeded()
        if not self.healthy:
            logger.info("shared rate limits available again")
        self.healthy = True
        self.last_error = None

    def _refuse_unless_fail_open(self) -> None:
        if not self.fail_open:
            raise ServiceUnavailable(
                REFUSED_MESSAGE, code="rate_limit_unavailable", headers={"Retry-After": "1"}
            )
