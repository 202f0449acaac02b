"""The rate-limit policy: which limit applies to whom, on each backend, and tokens per minute."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.keys.principal import Principal
from gateway.limits import LIMITER, RatePolicy
from gateway.limits.base import Decision
from gateway.settings import RateLimitSettings, Settings
from tests.conftest import TEST_SECRET_KEY, AppClient
from tests.middleware.probe import probe_app
from tests.middleware.test_auth import ADMIN_KEY, bearer, new_key
from tests.test_app import assert_openai_error

Client = TestClient[web.Request, web.Application]


@pytest.fixture(params=["file", "redis"])
def limited(
    request: pytest.FixtureRequest,
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
) -> Callable[..., Any]:
    """A probe app on each backend: the file store with the in-process limiter, or Redis."""
    storage: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if request.param == "redis":
        storage = {"backend": "redis", "redis_url": request.getfixturevalue("redis_url")}
        extra = {"secret_key": TEST_SECRET_KEY}

    async def build(**rate_limit: Any) -> Client:
        settings = make_settings(
            admin_key=ADMIN_KEY, rate_limit=rate_limit, storage=storage, **extra
        )
        return await aiohttp_client(probe_app(settings))

    return build


async def test_failed_requests_count(limited: Callable[..., Any]) -> None:
    client = await limited(chat_rpm=3)
    key = (await new_key(client))["key"]
    for _ in range(3):
        assert (await client.post("/api/v1/test/fail", headers=bearer(key))).status == 400
    assert (await client.get("/api/v1/test/chat", headers=bearer(key))).status == 429


async def test_keys_and_groups_have_their_own_buckets(limited: Callable[..., Any]) -> None:
    client = await limited(chat_rpm=2, models_rpm=3)
    one = (await new_key(client))["key"]
    two = (await new_key(client))["key"]
    special = (await new_key(client, rpm=4))["key"]
    for _ in range(2):
        assert (await client.get("/api/v1/test/chat", headers=bearer(one))).status == 200
    assert (await client.get("/api/v1/test/chat", headers=bearer(one))).status == 429
    assert (await client.get("/api/v1/test/chat", headers=bearer(two))).status == 200
    models = await client.get("/api/v1/test/models", headers=bearer(one))
    assert models.status == 200 and models.headers["X-RateLimit-Limit"] == "3"

    statuses = [
        (await client.get("/api/v1/test/chat", headers=bearer(special))).status for _ in range(5)
    ]
    assert statuses == [200] * 4 + [429]


async def test_refused_keys_count_against_the_client_address(limited: Callable[..., Any]) -> None:
    client = await limited(chat_rpm=3)
    statuses = [
        (await client.get("/api/v1/test/chat", headers=bearer(f"gw-guess{i}"))).status
        for i in range(5)
    ]
    assert statuses == [401] * 3 + [429] * 2


async def test_public_routes_are_not_limited(limited: Callable[..., Any]) -> None:
    client = await limited(default_rpm=1)
    for _ in range(3):
        response = await client.get("/api/v1/health")
        assert response.status == 200
        assert "X-RateLimit-Limit" not in response.headers


async def test_by_client_ip_when_auth_is_off(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    untrusted = await aiohttp_client(probe_app(make_settings(rate_limit={"chat_rpm": 2})))
    for index in range(2):
        headers = {"X-Forwarded-For": f"203.0.113.{index}"}
        assert (await untrusted.get("/api/v1/test/chat", headers=headers)).status == 200
    spoofed = {"X-Forwarded-For": "203.0.113.99"}
    assert (await untrusted.get("/api/v1/test/chat", headers=spoofed)).status == 429

    trusted = await aiohttp_client(
        probe_app(make_settings(rate_limit={"chat_rpm": 2, "trusted_proxies": ["127.0.0.0/8"]}))
    )
    for _ in range(2):
        forwarded = {"X-Forwarded-For": "198.51.100.7, 127.0.0.1"}
        assert (await trusted.get("/api/v1/test/chat", headers=forwarded)).status == 200
    assert (await trusted.get("/api/v1/test/chat", headers=forwarded)).status == 429
    other = {"X-Forwarded-For": "198.51.100.8"}
    assert (await trusted.get("/api/v1/test/chat", headers=other)).status == 200


async def test_tokens_per_minute(limited: Callable[..., Any]) -> None:
    client = await limited(tpm=1000)
    key = (await new_key(client))["key"]
    small = (await new_key(client, tpm=10))["key"]
    assert (await client.post("/api/v1/test/tokens?tokens=600", headers=bearer(key))).status == 200
    assert (await client.post("/api/v1/test/tokens?tokens=600", headers=bearer(key))).status == 200
    refused = await client.post("/api/v1/test/tokens?tokens=1", headers=bearer(key))
    assert refused.status == 429
    assert_openai_error(await refused.json(), "rate_limit_exceeded")
    assert int(refused.headers["Retry-After"]) >= 1
    # The per-key override, and each key's own count.
    assert (await client.post("/api/v1/test/tokens?tokens=10", headers=bearer(small))).status == 200
    assert (await client.post("/api/v1/test/tokens?tokens=1", headers=bearer(small))).status == 429


class BrokenLimiter:
    async def hit(self, key: str, limit: int, window_s: float = 60.0) -> Decision:
        raise ConnectionError("limiter down")

    async def add_tokens(self, key: str, tokens: int) -> None: ...

    async def tokens_used(self, key: str) -> int:
        return 0

    async def close(self) -> None: ...


@pytest.mark.parametrize(("fail_open", "status"), [(True, 200), (False, 500)])
async def test_a_failing_limiter(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fail_open: bool, status: int
) -> None:
    app = probe_app(make_settings(admin_key=ADMIN_KEY, rate_limit={"fail_open": fail_open}))
    app[LIMITER] = BrokenLimiter()
    client = await aiohttp_client(app)
    assert (await client.get("/api/v1/test/chat", headers=bearer(ADMIN_KEY))).status == status


async def test_disabled(limited: Callable[..., Any]) -> None:
    client = await limited(enabled=False, chat_rpm=1)
    for _ in range(3):
        response = await client.get("/api/v1/test/chat", headers=bearer(ADMIN_KEY))
        assert response.status == 200 and "X-RateLimit-Limit" not in response.headers


def test_one_lookup_says_which_limit_applies_to_whom() -> None:
    policy = RatePolicy(RateLimitSettings(chat_rpm=5, admin_rpm=2, tpm=100))
    plain = Principal(key_id="k1", name="plain", scopes=frozenset({"chat"}))
    own = Principal(key_id="k2", name="own", scopes=frozenset({"chat"}), rpm=9, tpm=7)
    assert [policy.rpm("chat", None), policy.rpm("admin", plain), policy.rpm("chat", own)] == [
        5,
        2,
        9,
    ]
    # Public and metrics routes are never counted, whatever the key says.
    assert policy.rpm("public", own) is None and policy.rpm("metrics", None) is None
    assert (policy.tpm(None), policy.tpm(plain), policy.tpm(own)) == (100, 100, 7)
    off = RatePolicy(RateLimitSettings(enabled=False, tpm=100))
    assert off.rpm("chat", own) is None and off.tpm(own) is None
