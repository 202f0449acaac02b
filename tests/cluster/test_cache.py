"""Shared cache: one upstream call per TTL across instances; compute alone when Redis is down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from gateway.cluster.cache import SharedCache, shared_by_key
from gateway.cluster.client import redis_client
from gateway.settings import StorageSettings
from tests.fakes.redis_server import RedisServer

TIMEOUT_S = 0.5

MakeCache = Callable[[], SharedCache]


@pytest.fixture
async def make_cache(redis_url: str) -> AsyncIterator[MakeCache]:
    made: list[SharedCache] = []

    def build() -> SharedCache:
        settings = StorageSettings(
            backend="redis", redis_url=SecretStr(redis_url), redis_timeout_s=TIMEOUT_S
        )
        cache = SharedCache(redis_client(settings), TIMEOUT_S, poll_interval_s=0.01)
        made.append(cache)
        return cache

    yield build
    for cache in made:
        await cache.client.aclose()


class Upstream:
    """Counts calls, like a model-list endpoint that is slow to answer."""

    def __init__(self) -> None:
        self.calls = 0

    async def models(self) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(0.1)
        return {"data": [{"id": "m1"}], "call": self.calls}


async def test_many_instances_make_one_call_per_ttl(make_cache: MakeCache) -> None:
    caches = [make_cache() for _ in range(3)]
    upstream = Upstream()
    results = await asyncio.gather(
        *(caches[i % 3].get_or_compute("catalog", 0.5, upstream.models) for i in range(9))
    )
    assert upstream.calls == 1
    assert all(result == {"data": [{"id": "m1"}], "call": 1} for result in results)
    assert await caches[2].get("catalog") == {"data": [{"id": "m1"}], "call": 1}

    await asyncio.sleep(0.6)  # the TTL passed: exactly one more call
    results = await asyncio.gather(
        *(caches[i % 3].get_or_compute("catalog", 0.5, upstream.models) for i in range(6))
    )
    assert upstream.calls == 2
    assert {result["call"] for result in results} == {2}


async def test_failed_compute_is_not_cached_and_others_take_over(make_cache: MakeCache) -> None:
    first, second = make_cache(), make_cache()

    async def broken() -> Any:
        await asyncio.sleep(0.05)
        raise RuntimeError("upstream down")

    async def working() -> Any:
        return ["ok"]

    failing = asyncio.create_task(first.get_or_compute("k", 5, broken))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(second.get_or_compute("k", 5, working))
    with pytest.raises(RuntimeError):
        await failing
    assert await waiting == ["ok"]
    assert await first.get("k") == ["ok"]


async def test_values_round_trip_and_expire(make_cache: MakeCache) -> None:
    cache = make_cache()
    assert await cache.get("missing") is None
    assert await cache.set("v", {"a": [1, None]}, ttl_s=0.2) is True
    assert await cache.get("v") == {"a": [1, None]}
    await asyncio.sleep(0.3)
    assert await cache.get("v") is None


async def test_redis_down_computes_locally(
    make_cache: MakeCache, redis_server: RedisServer
) -> None:
    cache = make_cache()
    upstream = Upstream()
    redis_server.stop()
    assert await cache.get_or_compute("catalog", 5, upstream.models) == {
        "data": [{"id": "m1"}],
        "call": 1,
    }
    assert cache.healthy is False
    assert await cache.set("x", 1, 5) is False
    assert await cache.get("x") is None


async def test_shared_by_key_wraps_a_fetcher_for_all_instances(make_cache: MakeCache) -> None:
    calls: list[str] = []

    async def list_models(provider_id: str) -> list[str]:
        calls.append(provider_id)
        await asyncio.sleep(0.05)
        return [f"{provider_id}-model"]

    fetchers = [shared_by_key(make_cache(), "catalog", 5, list_models) for _ in range(3)]
    results = await asyncio.gather(*(fetchers[i % 3]("p1" if i % 2 else "p2") for i in range(12)))
    assert sorted(calls) == ["p1", "p2"]
    assert {tuple(r) for r in results} == {("p1-model",), ("p2-model",)}

    cache = make_cache()
    assert await cache.delete("catalog:p1") is True
    assert await fetchers[0]("p1") == ["p1-model"]
    assert sorted(calls) == ["p1", "p1", "p2"]
