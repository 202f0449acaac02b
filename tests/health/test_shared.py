"""Probe verdicts shared through Redis: fresh ones adopted, stale or missing ones probed for."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from gateway.cluster.client import redis_client
from gateway.health.shared import SharedProbes
from gateway.health.state import HealthStatus, ProviderHealth
from gateway.health.store import SharedHealth
from gateway.settings import HealthSettings, StorageSettings
from tests.fakes.redis_server import RedisServer

TIMEOUT_S = 0.5
FRESH_S = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def records(redis_url: str) -> AsyncIterator[SharedHealth]:
    settings = StorageSettings(
        backend="redis", redis_url=SecretStr(redis_url), redis_timeout_s=TIMEOUT_S
    )
    shared = SharedHealth(redis_client(settings), TIMEOUT_S, ttl_s=60.0)
    yield shared
    await shared.client.aclose()


def instance(records: SharedHealth, clock: Clock) -> SharedProbes:
    health = ProviderHealth(HealthSettings(), wall_clock=clock)
    return SharedProbes(health, records, FRESH_S, wall_clock=clock)


async def test_fresh_verdicts_are_adopted_and_stale_ones_are_not(records: SharedHealth) -> None:
    clock = Clock()
    prober, reader = instance(records, clock), instance(records, clock)
    assert await reader.adopt("oa") is False  # nothing recorded yet: probe

    prober.health.record_probe("oa", 0.25, "HTTP 502")
    await prober.publish("oa")
    clock.now += FRESH_S / 2
    assert await reader.adopt("oa") is True
    state = reader.health.state("oa")
    assert state.status is HealthStatus.DEGRADED
    assert (state.latency_ms, state.consecutive_failures, state.last_error) == (
        250.0,
        1,
        "HTTP 502",
    )
    # The adopted count goes on: the reader's own failing probe is the second in a row.
    reader.health.record_probe("oa", 0.25, "HTTP 502")
    assert reader.health.state("oa").consecutive_failures == 2

    clock.now += FRESH_S
    assert await reader.adopt("oa") is False  # too old: probe again


async def test_with_redis_down_each_instance_probes_for_itself(
    records: SharedHealth, redis_server: RedisServer
) -> None:
    probes = instance(records, Clock())
    probes.health.record_probe("oa", 0.1)
    redis_server.stop()
    await probes.publish("oa")  # dropped, not raised
    assert await probes.adopt("oa") is False
    assert records.last_error is not None and "redis" in records.last_error
