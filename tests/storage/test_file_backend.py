"""The file backend: persistence, atomic rewrites, cross-process visibility, corruption."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.storage.base import Change, StorageError
from gateway.storage.file import CorruptStore, FileStorage


async def test_persistence_across_reopen(tmp_path: Path) -> None:
    """The backend-neutral contract is in test_backends.py; this is what files add."""
    storage = FileStorage(tmp_path)
    things = storage.collection("things")
    await storage.open()
    await things.create("a", {"n": 1})
    await things.replace("a", {"n": 3})
    await things.create("b", {"n": 4})
    assert await things.delete("b") is True
    await storage.close()
    assert (tmp_path / "things.json").stat().st_mode & 0o777 == 0o600

    reopened = FileStorage(tmp_path)
    again = reopened.collection("things")
    await reopened.open()
    assert await again.all() == {"a": {"n": 3}}
    await reopened.close()


async def test_other_writer_is_seen_by_poll(tmp_path: Path) -> None:
    first, second = FileStorage(tmp_path), FileStorage(tmp_path)
    one, two = first.collection("things"), second.collection("things")
    await first.open()
    await second.open()
    seen: list[Change] = []
    two.subscribe(seen.append)
    await one.create("x", {"v": 1})
    await two.create("y", {"v": 2})  # re-reads under the lock: x survives
    assert set(await two.all()) == {"x", "y"}
    two.poll()
    one.poll()
    assert set(await one.all()) == {"x", "y"}
    await first.close()
    await second.close()


async def test_concurrent_writers_are_serialized(tmp_path: Path) -> None:
    """Two stores on one folder (as two workers) write at once; no write is lost."""
    import asyncio

    first, second = FileStorage(tmp_path), FileStorage(tmp_path)
    one, two = first.collection("things"), second.collection("things")
    await first.open()
    await second.open()
    await asyncio.gather(
        *(one.create(f"a{i}", {"i": i}) for i in range(15)),
        *(two.create(f"b{i}", {"i": i}) for i in range(15)),
    )
    await first.close()
    await second.close()
    reopened = FileStorage(tmp_path)
    await reopened.open()
    stored = await reopened.collection("things").all()
    assert set(stored) == {f"{p}{i}" for p in "ab" for i in range(15)}
    await reopened.close()


async def test_corrupt_file_refuses_to_open(tmp_path: Path) -> None:
    (tmp_path / "things.json").write_text('{"version": 1, "documents": {"a": ')
    storage = FileStorage(tmp_path)
    storage.collection("things")
    with pytest.raises(CorruptStore) as caught:
        await storage.open()
    assert "things.json" in str(caught.value)


async def test_leftover_temporary_files_are_removed_at_start(tmp_path: Path) -> None:
    """A crash between writing the temporary file and renaming it leaves it behind."""
    tmp_path.joinpath("providers.json").write_text('{"version": 1, "documents": {}}')
    leftovers = [tmp_path / ".providers.json.4242.tmp", tmp_path / ".keys.json.1.tmp"]
    for leftover in leftovers:
        leftover.write_text('{"version": 1, "documen')
    other = tmp_path / "notes.tmp"
    other.write_text("not ours")
    storage = FileStorage(tmp_path)
    storage.collection("providers")
    await storage.open()
    try:
        assert not any(leftover.exists() for leftover in leftovers)
        assert other.exists()
    finally:
        await storage.close()


async def test_an_unwritable_data_folder_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    storage = FileStorage(tmp_path / "file" / "data")
    with pytest.raises(StorageError, match=r"storage.path .* is not writable"):
        await storage.open()
