"""The Redis backend: cross-instance visibility, outage (snapshot reads, 503 writes), recovery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from gateway.app import create_app
from gateway.cluster.client import redis_client
from gateway.endpoints import Operation, add_route
from gateway.settings import Settings, StorageSettings
from gateway.storage.base import Change, StorageUnavailable
from gateway.storage.redis import RedisStorage
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.redis_server import RedisServer

TIMEOUT_S = 0.5

OpenStorage = Callable[[], Awaitable[RedisStorage]]


@pytest.fixture
async def open_storage(redis_url: str) -> AsyncIterator[OpenStorage]:
    """Opens RedisStorage instances on the test server (each one is a gateway instance)."""
    opened: list[RedisStorage] = []

    async def build() -> RedisStorage:
        settings = StorageSettings(
            backend="redis", redis_url=SecretStr(redis_url), redis_timeout_s=TIMEOUT_S
        )
        storage = RedisStorage(redis_client(settings), settings.redis_timeout_s)
        storage.collection("providers")
        await storage.open()
        opened.append(storage)
        return storage

    yield build
    for storage in opened:
        await storage.close()
        await storage.client.aclose()  # the store's owner closes the client


async def wait_for(condition: Callable[[], bool], within_s: float) -> float:
    """Poll until ``condition`` holds; return how long it took, fail after ``within_s``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within_s:
            pytest.fail(f"condition not met within {within_s} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_changes_reach_another_instance_within_a_second(open_storage: OpenStorage) -> None:
    first, second = await open_storage(), await open_storage()
    mine, theirs = first.collection("providers"), second.collection("providers")
    seen: list[Change] = []
    theirs.subscribe(seen.append)

    await mine.create("p1", {"name": "one"})
    await wait_for(lambda: Change("created", "p1") in seen, within_s=1.0)
    assert await theirs.get("p1") == {"name": "one"}

    await mine.replace("p1", {"name": "uno"})
    await wait_for(lambda: Change("updated", "p1") in seen, within_s=1.0)
    assert await theirs.get("p1") == {"name": "uno"}

    await theirs.create("p2", {"name": "two"})
    await wait_for(lambda: len(mine._docs) == 2, within_s=1.0)
    assert await mine.delete("p2") is True
    await wait_for(lambda: Change("deleted", "p2") in seen, within_s=1.0)
    assert await theirs.all() == {"p1": {"name": "uno"}}

    await mine.replace_all({"a": {"v": 1}})
    await wait_for(lambda: seen[-1] == Change("reloaded", None), within_s=1.0)
    assert await theirs.all() == {"a": {"v": 1}}


async def test_concurrent_writers_converge(open_storage: OpenStorage) -> None:
    """Interleaved writes from three instances leave every snapshot equal to Redis."""
    instances = [await open_storage() for _ in range(3)]
    collections = [storage.collection("providers") for storage in instances]

    async def writer(index: int) -> None:
        for n in range(10):
            doc_id = f"d{n % 4}"
            try:
                await collections[index].create(doc_id, {"by": index, "n": n})
            except Exception:
                await collections[index].replace(doc_id, {"by": index, "n": n})

    await asyncio.gather(*(writer(i) for i in range(3)))
    truth = RedisStorage(instances[0].client, TIMEOUT_S).collection("providers")
    await truth.reload(notify=False)
    expected = await truth.all()
    for collection in collections:
        await wait_for(lambda c=collection: c._docs == expected, within_s=1.0)  # type: ignore[misc]


async def test_outage_serves_snapshot_and_refuses_writes_fast(
    open_storage: OpenStorage, redis_server: RedisServer
) -> None:
    storage = await open_storage()
    providers = storage.collection("providers")
    await providers.create("p1", {"name": "kept"})
    assert storage.status().healthy

    redis_server.stop()
    await wait_for(lambda: not storage.healthy, within_s=2.0)
    status = storage.status()
    assert status.healthy is False
    assert status.error is not None and "redis unreachable" in status.error

    assert await providers.all() == {"p1": {"name": "kept"}}
    assert await providers.get("p1") == {"name": "kept"}
    never_loaded = storage.collection("keys")
    assert await never_loaded.all() == {}

    start = time.monotonic()
    with pytest.raises(StorageUnavailable, match="unreachable"):
        await providers.create("p2", {"name": "lost"})
    with pytest.raises(StorageUnavailable):
        await providers.delete("p1")
    assert time.monotonic() - start < 2 * TIMEOUT_S + 0.5
    assert await providers.all() == {"p1": {"name": "kept"}}


async def test_restart_reconnects_resyncs_and_loses_nothing(
    open_storage: OpenStorage, redis_server: RedisServer
) -> None:
    first, second = await open_storage(), await open_storage()
    mine, theirs = first.collection("providers"), second.collection("providers")
    await mine.create("p1", {"name": "one"})
    await wait_for(lambda: "p1" in theirs._docs, within_s=1.0)
    seen: list[Change] = []
    theirs.subscribe(seen.append)

    redis_server.stop(persist=True)
    await wait_for(lambda: not first.healthy and not second.healthy, within_s=2.0)
    redis_server.start()
    await wait_for(lambda: first.healthy and second.healthy, within_s=8.0)
    assert Change("reloaded", None) in seen

    await mine.create("p2", {"name": "two"})
    await wait_for(lambda: "p2" in theirs._docs, within_s=1.0)
    assert await theirs.all() == {"p1": {"name": "one"}, "p2": {"name": "two"}}
    assert first.status().error is None


async def test_resync_after_restart_picks_up_changes_made_while_disconnected(
    open_storage: OpenStorage, redis_server: RedisServer, redis_url: str
) -> None:
    storage = await open_storage()
    providers = storage.collection("providers")
    await providers.create("p1", {"v": 1})
    redis_server.stop()
    await wait_for(lambda: not storage.healthy, within_s=2.0)
    redis_server.start()
    # Another instance writes before ours has reconnected: the resync must bring it in.
    other = await open_storage()
    await other.collection("providers").replace_all({"p9": {"v": 9}})
    await wait_for(lambda: storage.healthy, within_s=8.0)
    await wait_for(lambda: providers._docs == {"p9": {"v": 9}}, within_s=1.0)


async def test_open_refuses_when_redis_is_down(redis_server: RedisServer, redis_url: str) -> None:
    redis_server.stop()
    settings = StorageSettings(
        backend="redis", redis_url=SecretStr(redis_url), redis_timeout_s=TIMEOUT_S
    )
    storage = RedisStorage(redis_client(settings), TIMEOUT_S)
    with pytest.raises(StorageUnavailable, match="cannot reach Redis at start-up"):
        await storage.open()
    await storage.client.aclose()


async def test_start_up_gives_the_first_connection_longer_than_a_request(
    redis_server: RedisServer, redis_url: str
) -> None:
    """A Redis slow to answer at start-up (here: stopped for 2 timeouts) delays it, no more."""
    settings = StorageSettings(
        backend="redis", redis_url=SecretStr(redis_url), redis_timeout_s=TIMEOUT_S
    )
    storage = RedisStorage(redis_client(settings), TIMEOUT_S)
    storage.collection("providers")
    with redis_server.paused():
        opening = asyncio.create_task(storage.open())
        await asyncio.sleep(2 * TIMEOUT_S)
        assert not opening.done()
    await opening
    assert storage.healthy
    await storage.close()
    await storage.client.aclose()


async def test_health_reports_degraded_while_redis_is_down(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    make_settings: Callable[..., Settings],
    redis_server: RedisServer,
    redis_url: str,
) -> None:
    settings = make_settings(
        storage={"backend": "redis", "redis_url": redis_url, "redis_timeout_s": TIMEOUT_S},
        secret_key=TEST_SECRET_KEY,
    )
    client = await aiohttp_client(create_app(settings))
    body = await (await client.get("/api/v1/health")).json()
    assert body["status"] == "ok"
    assert body["storage"] == {"backend": "redis", "healthy": True, "error": None}

    redis_server.stop()
    deadline = time.monotonic() + 3
    while body["status"] == "ok" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        response = await client.get("/api/v1/health")
        body = await response.json()
    assert response.status == 200
    assert body["status"] == "degraded"
    assert "redis unreachable" in body["storage"]["error"]
    assert redis_url not in body["storage"]["error"]

    redis_server.start()
    deadline = time.monotonic() + 8
    while body["status"] != "ok" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        body = await (await client.get("/api/v1/health")).json()
    assert body["status"] == "ok"


async def test_write_while_down_answers_503_in_openai_shape(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    make_settings: Callable[..., Settings],
) -> None:
    async def write(_request: web.Request) -> web.Response:
        raise StorageUnavailable("The shared store (Redis) is unreachable.")

    app = create_app(make_settings())
    op = Operation(summary="test", tag="test", responses={200: "ok"})
    add_route(app, "POST", "/api/v1/test/write", write, group="default", operation=op)
    client = await aiohttp_client(app)
    response = await client.post("/api/v1/test/write")
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    body = await response.json()
    assert body["error"]["code"] == "storage_unavailable"
    assert body["error"]["type"] == "service_unavailable"
    assert "unreachable" in body["error"]["message"]


async def test_password_in_the_url_works_and_never_leaks(redis_url: str) -> None:
    admin = redis_client(StorageSettings(backend="redis", redis_url=SecretStr(redis_url)))
    await admin.config_set("requirepass", "s3cret-redis-pass")
    try:
        good = redis_url.replace("redis://", "redis://:s3cret-redis-pass@")
        storage = RedisStorage(
            redis_client(StorageSettings(backend="redis", redis_url=SecretStr(good))), TIMEOUT_S
        )
        await storage.open()
        await storage.collection("providers").create("p", {"v": 1})
        await storage.close()
        await storage.client.aclose()

        bad = redis_url.replace("redis://", "redis://:wrong-redis-pass@")
        refused = RedisStorage(
            redis_client(StorageSettings(backend="redis", redis_url=SecretStr(bad))), TIMEOUT_S
        )
        with pytest.raises(StorageUnavailable) as caught:
            await refused.open()
        await refused.client.aclose()
        assert "wrong-redis-pass" not in str(caught.value)
    finally:
        authed = redis_url.replace("redis://", "redis://:s3cret-redis-pass@")
        reset = redis_client(StorageSettings(backend="redis", redis_url=SecretStr(authed)))
        await reset.config_set("requirepass", "")
        await reset.aclose()
        await admin.aclose()


async def test_a_hung_redis_costs_an_admin_write_one_timeout_and_recovery_shows_at_once(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    make_settings: Callable[..., Settings],
    redis_server: RedisServer,
    redis_url: str,
) -> None:
    """SIGSTOP: a write answers 503 within one redis_timeout_s (rate limit included);
    SIGCONT: health says ok again within a second, as writes succeed."""
    settings = make_settings(
        storage={"backend": "redis", "redis_url": redis_url, "redis_timeout_s": TIMEOUT_S},
        secret_key=TEST_SECRET_KEY,
    )
    client = await aiohttp_client(create_app(settings))
    provider = {"name": "p", "template": "ollama"}
    assert (await client.post("/api/v1/providers", json={"id": "a", **provider})).status == 201
    with redis_server.paused():
        for n in range(3):
            started = time.monotonic()
            response = await client.post("/api/v1/providers", json={"id": f"b{n}", **provider})
            elapsed = time.monotonic() - started
            assert response.status == 503
            assert elapsed < TIMEOUT_S * 1.5, f"write {n} took {elapsed:.2f} s"
        await asyncio.sleep(2)  # a long outage: backoff has grown
        body = await (await client.get("/api/v1/health")).json()
        assert body["status"] == "degraded"
    resumed = time.monotonic()
    while body["status"] != "ok":
        assert time.monotonic() - resumed < 1.0, "health still degraded a second after"
        await asyncio.sleep(0.05)
        body = await (await client.get("/api/v1/health")).json()
    assert (await client.post("/api/v1/providers", json={"id": "c", **provider})).status == 201
