"""The rate-limit step over HTTP: 429 at once, and X-RateLimit-* on every counted response.

Which limit applies to whom is the policy's (tests/limits/test_policy.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.limits.test_policy import limited
from tests.middleware.test_auth import ADMIN_KEY, bearer, new_key
from tests.test_app import assert_openai_error

__all__ = ["limited"]  # the fixture: a probe app on each backend


async def test_exact_counts_and_headers(limited: Callable[..., Any]) -> None:
    client = await limited(chat_rpm=5)
    key = (await new_key(client))["key"]
    statuses, remaining = [], []
    for _ in range(5 + 5):
        response = await client.get("/api/v1/test/chat", headers=bearer(key))
        statuses.append(response.status)
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert 0 < int(response.headers["X-RateLimit-Reset"]) <= 60
    assert statuses == [200] * 5 + [429] * 5
    assert remaining == [4, 3, 2, 1, 0] + [0] * 5

    response = await client.get("/api/v1/test/chat", headers=bearer(key))
    assert response.status == 429
    # The in-process limiter frees one slot every 60/5 s; Redis's sliding log frees the oldest.
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    error = assert_openai_error(await response.json(), "rate_limit_exceeded")
    assert error["type"] == "rate_limit_error"


async def test_streamed_responses_carry_the_headers(limited: Callable[..., Any]) -> None:
    client = await limited(chat_rpm=7)
    response = await client.get("/api/v1/test/stream", headers=bearer(ADMIN_KEY))
    assert response.status == 200
    assert await response.text() == "data: one\n\n"
    assert response.headers["X-RateLimit-Limit"] == "7"
    assert response.headers["X-RateLimit-Remaining"] == "6"
