"""The Collection contract, held by every backend (``storage_backend`` runs each test on all)."""

from __future__ import annotations

import pytest

from gateway.storage.base import AlreadyExists, Change, DoesNotExist, Storage


async def test_create_replace_delete_and_change_events(storage_backend: Storage) -> None:
    things = storage_backend.collection("things")
    seen: list[Change] = []
    things.subscribe(seen.append)
    await things.create("a", {"n": 1})
    with pytest.raises(AlreadyExists):
        await things.create("a", {"n": 2})
    await things.replace("a", {"n": 3, "nested": {"list": [1, "two"]}})
    with pytest.raises(DoesNotExist):
        await things.replace("b", {"n": 1})
    assert await things.delete("missing") is False
    await things.create("b", {"n": 4})
    assert await things.delete("b") is True
    assert await things.all() == {"a": {"n": 3, "nested": {"list": [1, "two"]}}}
    assert await things.get("a") == {"n": 3, "nested": {"list": [1, "two"]}}
    assert await things.get("b") is None
    assert [(c.kind, c.id) for c in seen] == [
        ("created", "a"),
        ("updated", "a"),
        ("created", "b"),
        ("deleted", "b"),
    ]


async def test_replace_all_swaps_everything(storage_backend: Storage) -> None:
    things = storage_backend.collection("things")
    await things.create("old", {"v": 0})
    seen: list[Change] = []
    things.subscribe(seen.append)
    await things.replace_all({"x": {"v": 1}, "y": {"v": 2}})
    assert await things.all() == {"x": {"v": 1}, "y": {"v": 2}}
    assert Change("reloaded", None) in seen
    await things.replace_all({})
    assert await things.all() == {}


async def test_collections_are_separate_and_unsubscribe_works(storage_backend: Storage) -> None:
    one, two = storage_backend.collection("one"), storage_backend.collection("two")
    assert storage_backend.collection("one") is one
    seen: list[Change] = []
    stop = one.subscribe(seen.append)
    await one.create("same", {"in": "one"})
    await two.create("same", {"in": "two"})
    stop()
    await one.replace("same", {"in": "one", "v": 2})
    assert await one.get("same") == {"in": "one", "v": 2}
    assert await two.get("same") == {"in": "two"}
    assert seen == [Change("created", "same")]


async def test_status_is_healthy(storage_backend: Storage) -> None:
    status = storage_backend.status()
    assert status.healthy is True
    assert status.error is None
