"""Values shared by every instance, with a TTL, computed once across instances.

``get_or_compute`` is a single flight: the first instance to miss takes a lock
(``SET NX PX``), computes and stores the value; the others wait for it instead
of calling the upstream themselves. So N instances make one upstream call per
TTL (the model catalog uses it). When Redis is unreachable, every instance
computes for itself: slower and more upstream calls, but nothing breaks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway.cluster.client import UNREACHABLE, Redis, bounded, describe

logger = logging.getLogger("gateway.cluster.cache")

T = TypeVar("T")

PREFIX = "gw:cache:"
LOCK_SUFFIX = ":lock"

# KEYS: lock. ARGV: token. Deletes the lock only if we still hold it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SharedCache:
    """JSON values under ``gw:cache:<key>`` with a TTL, plus a cross-instance single flight."""

    def __init__(
        self,
        client: Redis,
        timeout_s: float,
        *,
        poll_interval_s: float = 0.05,
    ) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.healthy = True
        self.last_error: str | None = None
        self._release = client.register_script(_RELEASE)
        self._in_flight: dict[str, asyncio.Future[Any]] = {}

    async def get(self, key: str) -> Any | None:
        """The cached value, or None when absent, expired or Redis is unreachable."""
        try:
            raw = await bounded(self.client.get(PREFIX + key), self.timeout_s)
        except UNREACHABLE as exc:
            self._failed(exc)
            return None
        self._succeeded()
        return None if raw is None else json.loads(raw)["v"]

    async def set(self, key: str, value: Any, ttl_s: float) -> bool:
        """Store ``value`` (JSON-serializable) for ``ttl_s``; False when Redis is unreachable."""
        payload = json.dumps({"v": value}, separators=(",", ":"))
        try:
            await bounded(
                self.client.set(PREFIX + key, payload, px=max(int(ttl_s * 1000), 1)),
                self.timeout_s,
            )
        except UNREACHABLE as exc:
            self._failed(exc)
            return False
        self._succeeded()
        return True

    async def delete(self, key: str) -> bool:
        """Forget a value (a provider changed); False when Redis is unreachable."""
        return await self._try(self.client.delete(PREFIX + key)) is not _DOWN

    async def get_or_compute(
        self,
        key: str,
        ttl_s: float,
        compute: Callable[[], Awaitable[Any]],
        *,
        lock_ttl_s: float = 30.0,
    ) -> Any:
        """The cached value, or ``compute()`` run by exactly one instance and shared."""
        running = self._in_flight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await self._single_flight(key, ttl_s, compute, lock_ttl_s)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a future nobody awaits is not reported
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._in_flight[key]

    async def _single_flight(
        self,
        key: str,
        ttl_s: float,
        compute: Callable[[], Awaitable[Any]],
        lock_ttl_s: float,
    ) -> Any:
        lock_key = PREFIX + key + LOCK_SUFFIX
        deadline = time.monotonic() + lock_ttl_s
        while True:
            raw = await self._try(self.client.get(PREFIX + key))
            if raw is not _DOWN and raw is not None:
                return json.loads(raw)["v"]
            if raw is _DOWN or time.monotonic() >= deadline:
                return await compute()  # no coordination possible: compute for ourselves
            token = uuid.uuid4().hex
            acquired = await self._try(
                self.client.set(lock_key, token, nx=True, px=int(lock_ttl_s * 1000))
            )
            if acquired is _DOWN:
                return await compute()
            if acquired:
                try:
                    value = await compute()
                    await self.set(key, value, ttl_s)
                    return value
                finally:
                    await self._try(self._release(keys=[lock_key], args=[token]))
            # Someone else is computing: wait for their value or for their lock to go.
            while time.monotonic() < deadline:
                await asyncio.sleep(self.poll_interval_s)
                raw = await self._try(self.client.get(PREFIX + key))
                if raw is _DOWN:
                    break
                if raw is not None:
                    return json.loads(raw)["v"]
                if not await self._try(self.client.exists(lock_key)):
                    break  # the holder gave up or failed; try to take over

    async def _try(self, call: Awaitable[Any]) -> Any:
        try:
            result = await bounded(call, self.timeout_s)
        except UNREACHABLE as exc:
            self._failed(exc)
            return _DOWN
        self._succeeded()
        return result

    def _failed(self, exc: BaseException) -> None:
        if self.healthy:
            logger.warning("shared cache unavailable, Redis unreachable: %s", describe(exc))
        self.healthy = False
        self.last_error = f"redis unreachable: {describe(exc)}"

    def _succeeded(self) -> None:
        self.healthy = True
        self.last_error = None


class _Down:
    """Marks a Redis call that could not be made."""


_DOWN = _Down()


def shared_by_key(
    cache: SharedCache, namespace: str, ttl_s: float, fetch: Callable[[str], Awaitable[T]]
) -> Callable[[str], Awaitable[T]]:
    """Wrap a per-id fetcher (e.g. the catalog's model lister) so all instances share its result.

    ``ModelCatalog(shared_by_key(cache, "catalog", ttl_s, fetch), ttl_s)`` makes one upstream
    call per provider per TTL across every instance. The result must be JSON-serializable;
    a tuple comes back as a list. Forget an entry with ``cache.delete(f"{namespace}:{id}")``.
    """

    async def fetch_shared(item_id: str) -> T:
        value: T = await cache.get_or_compute(
            f"{namespace}:{item_id}", ttl_s, lambda: fetch(item_id)
        )
        return value

    return fetch_shared
