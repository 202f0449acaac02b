"""One Redis client per worker: every user of Redis shares it, and it is closed once, last."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.cluster.client import REDIS
from gateway.health.shared import SHARED_PROBES
from gateway.ledger.redis import RedisLedger
from gateway.ledger.service import LEDGER
from gateway.limits import LIMITER
from gateway.limits.redis import RedisRateLimiter
from gateway.providers.shared_catalog import SHARED_CATALOG
from gateway.responses.store import RedisResponses
from gateway.routes.responses import RESPONSE_STORE
from gateway.settings import Settings
from gateway.state import STORAGE
from gateway.storage.redis import RedisStorage
from tests.conftest import TEST_SECRET_KEY


async def test_every_user_shares_the_one_client_closed_after_them(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(
        storage={"backend": "redis", "redis_url": redis_url},
        secret_key=TEST_SECRET_KEY,
        responses={"store": True},
    )
    app = create_app(settings)
    server = TestServer(app)
    await server.start_server()
    client = app[REDIS]
    storage, limiter = app[STORAGE], app[LIMITER]
    ledger, responses = app[LEDGER].store, app[RESPONSE_STORE]
    assert isinstance(storage, RedisStorage) and isinstance(limiter, RedisRateLimiter)
    assert isinstance(ledger, RedisLedger) and isinstance(responses, RedisResponses)
    users = [
        storage.client,
        limiter.client,
        app[SHARED_CATALOG].cache.client,
        app[SHARED_PROBES].records.client,
        ledger.client,
        responses.client,
    ]
    assert all(user is client for user in users)
    pool = client.connection_pool
    assert await client.ping()
    assert pool._in_use_connections or pool._available_connections

    await server.close()
    connections = [*pool._in_use_connections, *pool._available_connections]
    assert connections and not any(c.is_connected for c in connections)
