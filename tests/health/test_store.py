"""Shared provider health: one record per provider, seen by every instance, expiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr

from gateway.cluster.client import redis_client
from gateway.health.store import SharedHealth
from gateway.settings import StorageSettings
from tests.fakes.redis_server import RedisServer

TIMEOUT_S = 0.5

MakeHealth = Callable[[float], SharedHealth]


@pytest.fixture
async def make_health(redis_url: str) -> AsyncIterator[MakeHealth]:
    made: list[SharedHealth] = []

    def build(ttl_s: float) -> SharedHealth:
        settings = StorageSettings(
            backend="redis", redis_url=SecretStr(redis_url), redis_timeout_s=TIMEOUT_S
        )
        health = SharedHealth(redis_client(settings), TIMEOUT_S, ttl_s)
        made.append(health)
        return health

    yield build
    for health in made:
        await health.client.aclose()


async def test_records_are_shared_merged_and_expire(make_health: MakeHealth) -> None:
    prober, reader = make_health(0.4), make_health(0.4)
    assert await prober.put("openai", {"status": "healthy", "latency_ms": 120.5})
    assert await prober.put("openai", {"failures": 0})
    assert await prober.put("groq", {"status": "unhealthy", "error": "HTTP 503"})
    assert await reader.get("openai") == {"status": "healthy", "latency_ms": 120.5, "failures": 0}
    assert await reader.all() == {
        "groq": {"status": "unhealthy", "error": "HTTP 503"},
        "openai": {"status": "healthy", "latency_ms": 120.5, "failures": 0},
    }
    await reader.remove("groq")
    assert set(await reader.all()) == {"openai"}
    await asyncio.sleep(0.5)
    assert await reader.get("openai") is None
    assert await reader.all() == {}
    assert await reader.client.smembers("gw:health:index") == set()


async def test_redis_down_drops_writes_and_reads_empty(
    make_health: MakeHealth, redis_server: RedisServer
) -> None:
    health = make_health(10)
    redis_server.stop()
    assert await health.put("openai", {"status": "healthy"}) is False
    assert await health.get("openai") is None
    assert await health.all() == {}
    assert health.healthy is False
    assert health.last_error is not None
