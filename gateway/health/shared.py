"""Probe verdicts shared by every instance through Redis (the redis storage backend only).

An instance about to probe a provider first looks for a verdict another instance
recorded recently; if there is one, it adopts it instead of probing, so N instances
probe each provider about once per interval between them, and all route alike.
Whatever an instance does probe, it publishes. With Redis unreachable the records
read as absent and writes are dropped: each instance probes for itself.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from aiohttp import web

from gateway.health.state import Clock, HealthState, HealthStatus, ProviderHealth
from gateway.health.store import SharedHealth

logger = logging.getLogger("gateway.health")


class SharedProbes:
    """Publish this instance's probe verdicts; adopt fresher ones from the others."""

    def __init__(
        self,
        health: ProviderHealth,
        records: SharedHealth,
        fresh_s: float,
        wall_clock: Clock = time.time,
    ) -> None:
        self.health = health
        self.records = records
        self.fresh_s = fresh_s
        """A record younger than this is adopted instead of probing."""
        self._wall_clock = wall_clock

    async def publish(self, provider_id: str) -> None:
        state = self.health.probe_state(provider_id)
        if state is not None:
            await self.records.put(provider_id, _as_record(state))

    async def adopt(self, provider_id: str) -> bool:
        """True when a recent shared verdict stands in for a probe now."""
        record = await self.records.get(provider_id)
        if record is None:
            return False
        shared = _from_record(record)
        if shared is None or shared.checked_at is None:
            return False
        if self._wall_clock() - shared.checked_at >= self.fresh_s:
            return False
        local = self.health.probe_state(provider_id)
        if local is None or local.checked_at is None or local.checked_at < shared.checked_at:
            self.health.adopt_probe(provider_id, shared)
        return True


SHARED_PROBES = web.AppKey("shared_probes", SharedProbes)
"""Only with the redis backend."""


def _as_record(state: HealthState) -> dict[str, Any]:
    return asdict(state) | {"status": state.status.value}


def _from_record(record: dict[str, Any]) -> HealthState | None:
    """The state a record describes; None for a record this version cannot read."""
    try:
        return HealthState(
            status=HealthStatus(record["status"]),
            latency_ms=record.get("latency_ms"),
            checked_at=record.get("checked_at"),
            consecutive_failures=int(record.get("consecutive_failures", 0)),
            last_error=record.get("last_error"),
            probe_unavailable=bool(record.get("probe_unavailable", False)),
        )
    except (KeyError, ValueError, TypeError):
        logger.warning("unreadable shared health record ignored")
        return None
