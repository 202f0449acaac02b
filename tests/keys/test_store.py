"""The key store on every storage backend: hashes only, one-lookup auth, revocation everywhere."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway.keys.store import KeyStore, hash_key
from gateway.storage.base import Storage
from gateway.storage.file import FileStorage
from gateway.storage.redis import RedisStorage

StorageFactory = Callable[[], Storage]


@pytest.fixture(params=["file", "redis"])
async def make_storage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StorageFactory]:
    """Opens storages that share one backing store, as two gateway processes would."""
    opened: list[Storage] = []
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None

    def build() -> Storage:
        storage: Storage
        if redis_url is not None:
            storage = RedisStorage(Redis.from_url(redis_url), timeout_s=1.0)
        else:
            storage = FileStorage(tmp_path / "data", poll_interval_s=0.05)
        opened.append(storage)
        return storage

    yield build
    for storage in opened:
        await storage.close()
        if isinstance(storage, RedisStorage):
            await storage.client.aclose()


async def open_store(make_storage: StorageFactory) -> KeyStore:
    storage = make_storage()
    store = KeyStore(storage.collection("keys"))
    await storage.open()
    await store.start()
    return store


async def test_only_the_hash_is_stored(make_storage: StorageFactory) -> None:
    store = await open_store(make_storage)
    key, meta = await store.create(name="ci", scopes=["chat", "chat"], models=["m"], rpm=5)
    assert key.startswith("gw-") and len(key) >= 46
    docs = await store.collection.all()
    assert docs[meta["id"]]["hash"] == hash_key(key)
    assert key not in json.dumps(docs)
    assert meta["scopes"] == ["chat"] and "hash" not in meta

    principal = store.authenticate(key)
    assert principal is not None
    assert principal.key_id == meta["id"] and principal.rpm == 5
    assert principal.allows_route("p", "m") and not principal.allows_route("p", "other")
    assert store.authenticate(key + "x") is None
    assert store.authenticate("") is None


async def test_keys_are_unique_and_random(make_storage: StorageFactory) -> None:
    store = await open_store(make_storage)
    keys = {(await store.create(name=f"k{i}", scopes=["chat"]))[0] for i in range(5)}
    assert len(keys) == 5
    assert len({key[:12] for key in keys}) == 5


async def test_revocation_is_immediate_here(make_storage: StorageFactory) -> None:
    store = await open_store(make_storage)
    key, meta = await store.create(name="gone", scopes=["chat"])
    assert await store.revoke(meta["id"])
    assert store.authenticate(key) is None
    assert not await store.revoke(meta["id"])
    # Still listed, marked revoked, with no hash kept.
    (listed,) = await store.list()
    assert listed["id"] == meta["id"] and listed["revoked_at"]
    assert "hash" not in await store.collection.get(meta["id"])  # type: ignore[operator]


async def test_changes_reach_another_instance(make_storage: StorageFactory) -> None:
    first = await open_store(make_storage)
    second = await open_store(make_storage)
    key, meta = await first.create(name="shared", scopes=["chat"])
    await _eventually(lambda: second.authenticate(key) is not None)
    await first.revoke(meta["id"])
    await _eventually(lambda: second.authenticate(key) is None)


async def test_malformed_documents_are_refused_not_fatal(make_storage: StorageFactory) -> None:
    store = await open_store(make_storage)
    await store.collection.create("key_bad", {"id": "key_bad", "hash": "abc"})
    key, _ = await store.create(name="good", scopes=["chat"])
    await asyncio.sleep(0)
    await _eventually(lambda: store.authenticate(key) is not None)


async def _eventually(check: Callable[[], bool], timeout_s: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_a_revoked_key_cannot_be_changed_back_to_life(make_storage: StorageFactory) -> None:
    store = await open_store(make_storage)
    key, meta = await store.create(name="gone", scopes=["chat"])
    assert await store.revoke(meta["id"])
    assert await store.update(meta["id"], {"rpm": 5}) is None
    assert store.authenticate(key) is None
