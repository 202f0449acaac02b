"""Shared rate limits: exact across instances, token minutes, and both fail_open behaviours."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr

from gateway.cluster.client import redis_client
from gateway.errors import ServiceUnavailable
from gateway.limits.redis import RedisRateLimiter
from gateway.settings import StorageSettings
from tests.fakes.redis_server import RedisServer

TIMEOUT_S = 0.5

MakeLimiter = Callable[..., RedisRateLimiter]


@pytest.fixture
async def make_limiter(redis_url: str) -> AsyncIterator[MakeLimiter]:
    """Limiters on the test Redis, one per simulated gateway instance."""
    made: list[RedisRateLimiter] = []

    def build(fail_open: bool = True) -> RedisRateLimiter:
        settings = StorageSettings(
            backend="redis", redis_url=SecretStr(redis_url), redis_timeout_s=TIMEOUT_S
        )
        limiter = RedisRateLimiter(redis_client(settings), TIMEOUT_S, fail_open=fail_open)
        made.append(limiter)
        return limiter

    yield build
    for limiter in made:
        await limiter.client.aclose()  # the limiter's owner closes the client


async def test_limit_plus_five_round_robin_over_three_instances_is_exact(
    make_limiter: MakeLimiter,
) -> None:
    limiters = [make_limiter() for _ in range(3)]
    limit, window = 7, 60.0
    decisions = [await limiters[i % 3].hit("chat:key1", limit, window) for i in range(limit + 5)]
    assert [d.allowed for d in decisions] == [True] * limit + [False] * 5
    assert [d.remaining for d in decisions] == [6, 5, 4, 3, 2, 1, 0] + [0] * 5
    for decision in decisions:
        assert decision.limit == limit
        assert window - 1 < decision.reset_s <= window
    assert all(d.retry_after_s == 0 for d in decisions[:limit])
    assert all(window - 1 < d.retry_after_s <= window for d in decisions[limit:])
    # Other keys are counted apart.
    assert (await limiters[1].hit("chat:key2", limit, window)).remaining == limit - 1


async def test_concurrent_requests_across_instances_are_exact(make_limiter: MakeLimiter) -> None:
    limiters = [make_limiter() for _ in range(3)]
    limit = 20
    decisions = await asyncio.gather(
        *(limiters[i % 3].hit("burst", limit, 60.0) for i in range(limit + 5))
    )
    assert sum(d.allowed for d in decisions) == limit
    allowed_remaining = sorted(d.remaining for d in decisions if d.allowed)
    assert allowed_remaining == list(range(limit))


async def test_window_frees_after_retry_after(make_limiter: MakeLimiter) -> None:
    first, second = make_limiter(), make_limiter()
    assert (await first.hit("k", 2, 1.0)).allowed
    await asyncio.sleep(0.5)
    assert (await second.hit("k", 2, 1.0)).allowed
    refused = await first.hit("k", 2, 1.0)
    assert not refused.allowed
    assert 0.2 < refused.retry_after_s <= 0.5  # when the first hit leaves the window
    assert 0.8 < refused.reset_s <= 1.0  # when the second one does
    await asyncio.sleep(refused.retry_after_s + 0.03)
    again = await second.hit("k", 2, 1.0)
    assert again.allowed
    assert again.remaining == 0  # the second hit is still inside its window


async def test_tokens_per_minute_are_shared(make_limiter: MakeLimiter) -> None:
    first, second = make_limiter(), make_limiter()
    assert await first.tokens_used("key1") == 0
    await first.add_tokens("key1", 120)
    await second.add_tokens("key1", 30)
    await second.add_tokens("key1", 0)
    await second.add_tokens("other", 5)
    assert await first.tokens_used("key1") == 150
    assert await second.tokens_used("key1") == 150
    assert await first.tokens_used("other") == 5


async def test_fail_open_counts_locally_then_returns_to_shared(
    make_limiter: MakeLimiter, redis_server: RedisServer
) -> None:
    limiter = make_limiter(fail_open=True)
    assert (await limiter.hit("k", 3, 60.0)).remaining == 2
    redis_server.stop()
    start = time.monotonic()
    local = [await limiter.hit("k", 3, 60.0) for _ in range(5)]
    assert time.monotonic() - start < TIMEOUT_S + 0.5
    assert [d.allowed for d in local] == [True, True, True, False, False]
    assert [d.remaining for d in local] == [2, 1, 0, 0, 0]
    assert 19 < local[-1].retry_after_s <= 20  # the in-process GCRA: a slot every 60/3 s
    assert limiter.healthy is False
    assert limiter.last_error is not None and "redis unreachable" in limiter.last_error
    await limiter.add_tokens("k", 40)
    assert await limiter.tokens_used("k") == 40

    redis_server.start()
    deadline = time.monotonic() + 5
    while not limiter.healthy and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        await limiter.hit("probe", 100, 60.0)
    assert limiter.healthy
    assert (await limiter.hit("after", 3, 60.0)).remaining == 2
    assert (await make_limiter().hit("after", 3, 60.0)).remaining == 1  # shared again


async def test_fail_closed_refuses_with_503(
    make_limiter: MakeLimiter, redis_server: RedisServer
) -> None:
    limiter = make_limiter(fail_open=False)
    assert (await limiter.hit("k", 3, 60.0)).allowed
    redis_server.stop()
    start = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        await limiter.hit("k", 3, 60.0)
    with pytest.raises(ServiceUnavailable):
        await limiter.tokens_used("k")
    assert time.monotonic() - start < TIMEOUT_S + 0.5
    assert caught.value.http_status == 503
    assert caught.value.code == "rate_limit_unavailable"
    assert "fail_open" in caught.value.message
