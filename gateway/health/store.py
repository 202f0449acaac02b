"""Provider health shared by every instance: one hash per provider, expiring with a TTL.

Whichever instance probes a provider writes what it saw (``gw:health:<id>``, field ->
JSON value); every instance reads the same record, so they route alike and only
one of them needs to probe. Records expire, so a stopped prober leaves no stale
verdict behind. With Redis unreachable, writes are dropped and reads are empty:
each instance then relies on its own probes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from gateway.cluster.client import UNREACHABLE, Redis, bounded, describe

logger = logging.getLogger("gateway.health.store")

PREFIX = "gw:health:"
INDEX = "gw:health:index"


class SharedHealth:
    """Read and write per-provider health records in Redis."""

    def __init__(self, client: Redis, timeout_s: float, ttl_s: float) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self.healthy = True
        self.last_error: str | None = None

    async def put(self, provider_id: str, record: Mapping[str, Any]) -> bool:
        """Merge ``record``'s fields into the provider's hash and renew its TTL."""
        fields = {name: json.dumps(value) for name, value in record.items()}
        if not fields:
            return True
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(PREFIX + provider_id, mapping=fields)  # type: ignore[arg-type]
        pipe.pexpire(PREFIX + provider_id, max(int(self.ttl_s * 1000), 1))
        pipe.sadd(INDEX, provider_id)
        return await self._run(pipe.execute()) is not None

    async def get(self, provider_id: str) -> dict[str, Any] | None:
        raw = await self._run(self.client.hgetall(PREFIX + provider_id))
        return _decode(raw) if raw else None

    async def all(self) -> dict[str, dict[str, Any]]:
        """Every provider with a live record; expired ones are dropped from the index."""
        members = await self._run(self.client.smembers(INDEX))
        if not members:
            return {}
        ids = sorted(member.decode() for member in members)
        pipe = self.client.pipeline(transaction=False)
        for provider_id in ids:
            pipe.hgetall(PREFIX + provider_id)
        raws = await self._run(pipe.execute())
        if raws is None:
            return {}
        found = {pid: _decode(raw) for pid, raw in zip(ids, raws, strict=True) if raw}
        expired = [pid for pid in ids if pid not in found]
        if expired:
            await self._run(self.client.srem(INDEX, *expired))
        return found

    async def remove(self, provider_id: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(PREFIX + provider_id)
        pipe.srem(INDEX, provider_id)
        await self._run(pipe.execute())

    async def _run(self, call: Any) -> Any:
        try:
            result = await bounded(call, self.timeout_s)
        except UNREACHABLE as exc:
            if self.healthy:
                logger.warning("shared health unavailable, Redis unreachable: %s", describe(exc))
            self.healthy = False
            self.last_error = f"redis unreachable: {describe(exc)}"
            return None
        self.healthy = True
        self.last_error = None
        return result


def _decode(raw: Mapping[bytes, bytes]) -> dict[str, Any]:
    return {name.decode(): json.loads(value) for name, value in raw.items()}
