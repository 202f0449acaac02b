"""The in-process limiter: exact counts, refusal without counting, refill, token windows."""

from __future__ import annotations

import asyncio

import pytest

from gateway.limits import memory
from gateway.limits.memory import MemoryRateLimiter


async def test_exact_counts_then_refusal() -> None:
    limiter = MemoryRateLimiter()
    decisions = [await limiter.hit("k", 5, 60.0) for _ in range(8)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0, 0]
    assert all(d.limit == 5 for d in decisions)
    assert decisions[0].retry_after_s == 0
    refused = decisions[-1]
    # One slot frees every 12 s; a full bucket takes 60 s to drain.
    assert 11 < refused.retry_after_s <= 12
    assert 59 < refused.reset_s <= 60
    # Other keys and other limits have their own buckets.
    assert (await limiter.hit("other", 5, 60.0)).remaining == 4


async def test_a_slot_frees_after_window_over_limit() -> None:
    limiter = MemoryRateLimiter()
    assert (await limiter.hit("k", 2, 0.2)).allowed
    assert (await limiter.hit("k", 2, 0.2)).allowed
    refused = await limiter.hit("k", 2, 0.2)
    assert not refused.allowed
    await asyncio.sleep(refused.retry_after_s + 0.01)
    assert (await limiter.hit("k", 2, 0.2)).allowed


async def test_concurrent_hits_never_exceed_the_limit() -> None:
    limiter = MemoryRateLimiter()
    decisions = await asyncio.gather(*(limiter.hit("k", 10, 60.0) for _ in range(30)))
    assert sum(d.allowed for d in decisions) == 10


async def test_tokens_slide_out_of_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "TOKEN_WINDOW_S", 0.2)
    limiter = MemoryRateLimiter()
    await limiter.add_tokens("k", 100)
    await limiter.add_tokens("k", 50)
    await limiter.add_tokens("k", 0)
    assert await limiter.tokens_used("k") == 150
    assert await limiter.tokens_used("nobody") == 0
    await asyncio.sleep(0.25)
    assert await limiter.tokens_used("k") == 0


async def test_idle_buckets_are_swept(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = MemoryRateLimiter()
    await limiter.hit("a", 2, 0.05)
    await limiter.add_tokens("b", 1)
    monkeypatch.setattr(memory, "TOKEN_WINDOW_S", 0.01)
    await asyncio.sleep(0.1)
    limiter._sweep_at = 0.0
    await limiter.hit("c", 2, 60.0)
    assert [key for key, *_ in limiter._buckets] == ["c"]
    assert limiter._tokens == {}
