"""File backend: one JSON file per collection under ``storage.path``.

Reads are served from memory. Every write rewrites the collection's file
atomically (temporary file, fsync, rename, fsync of the folder) under an
exclusive ``flock``, after re-reading the file, so several worker processes can
share one data folder without losing each other's writes. A file changed by
another process is picked up by a cheap stat poll. At start the folder must be
writable (found then, not at the first write), and temporary files left by a
write that a crash interrupted are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from gateway.storage.base import (
    AlreadyExists,
    Change,
    Document,
    DoesNotExist,
    Listener,
    StorageError,
    StorageStatus,
)
from gateway.storage.listeners import Listeners
from gateway.tasks import cancel_and_wait

logger = logging.getLogger("gateway.storage.file")

FILE_MODE = 0o600
LEFTOVER = re.compile(r"^\.(?P<name>.+)\.json\.\d+\.tmp$")
"""A temporary file of write_atomically, named after its collection and writer's pid."""


class CorruptStore(StorageError):
    """A store file exists but cannot be read back; the gateway refuses to start."""


def read_documents(path: Path) -> dict[str, Document]:
    """Load a collection file; a missing file is an empty collection."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptStore(f"store file {path} is corrupt ({exc}); refusing to start") from None
    if not isinstance(data, dict) or not isinstance(data.get("documents"), dict):
        raise CorruptStore(f"store file {path} has an unexpected layout; refusing to start")
    return data["documents"]  # type: ignore[no-any-return]


def write_atomically(path: Path, payload: bytes) -> None:
    """Replace ``path`` so that a crash leaves either the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """Inode, mtime and size: changes whenever another process replaces or rewrites ``path``."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _encode(docs: dict[str, Document]) -> bytes:
    return json.dumps({"version": 1, "documents": docs}, indent=1, sort_keys=True).encode()


class FileCollection:
    """A collection held in memory and persisted to ``<folder>/<name>.json``."""

    def __init__(self, folder: Path, name: str) -> None:
        self.name = name
        self.path = folder / f"{name}.json"
        self._lock_path = folder / f".{name}.lock"
        self._docs: dict[str, Document] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._listeners: Listeners[Change] = Listeners(logger, f"storage listener for {name}")
        self._write_lock = asyncio.Lock()

    def load(self) -> None:
        self._docs = read_documents(self.path)
        self._stamp = file_stamp(self.path)

    def poll(self) -> None:
        """Reload when another process rewrote the file; tell subscribers."""
        stamp = file_stamp(self.path)
        if stamp == self._stamp:
            return
        try:
            docs = read_documents(self.path)
        except CorruptStore as exc:
            logger.error("%s; keeping the last good copy in memory", exc)
            return
        self._stamp = stamp
        if docs != self._docs:
            self._docs = docs
            self._listeners.emit(Change("reloaded", None))

    async def all(self) -> dict[str, Document]:
        return dict(self._docs)

    async def get(self, doc_id: str) -> Document | None:
        return self._docs.get(doc_id)

    async def create(self, doc_id: str, doc: Document) -> None:
        def apply(docs: dict[str, Document]) -> None:
            if doc_id in docs:
                raise AlreadyExists(doc_id)
            docs[doc_id] = doc

        await self._mutate(apply)
        self._listeners.emit(Change("created", doc_id))

    async def replace(self, doc_id: str, doc: Document) -> None:
        def apply(docs: dict[str, Document]) -> None:
            if doc_id not in docs:
                raise DoesNotExist(doc_id)
            docs[doc_id] = doc

        await self._mutate(apply)
        self._listeners.emit(Change("updated", doc_id))

    async def delete(self, doc_id: str) -> bool:
        existed = False

        def apply(docs: dict[str, Document]) -> None:
            nonlocal existed
            existed = docs.pop(doc_id, None) is not None

        await self._mutate(apply)
        if existed:
            self._listeners.emit(Change("deleted", doc_id))
        return existed

    async def replace_all(self, docs: dict[str, Document]) -> None:
        def apply(current: dict[str, Document]) -> None:
            current.clear()
            current.update(docs)

        await self._mutate(apply)
        self._listeners.emit(Change("reloaded", None))

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    async def _mutate(self, apply: Callable[[dict[str, Document]], None]) -> None:
        async with self._write_lock:
            self._docs = await asyncio.to_thread(self._mutate_on_disk, apply)
            self._stamp = file_stamp(self.path)

    def _mutate_on_disk(self, apply: Callable[[dict[str, Document]], None]) -> dict[str, Document]:
        with locked(self._lock_path):
            docs = read_documents(self.path)  # another process may have written since
            apply(docs)
            write_atomically(self.path, _encode(docs))
            return docs


def remove_leftovers(folder: Path) -> None:
    """Delete temporary files of interrupted writes (a crash between write and rename).

    Each is removed under its collection's lock, so a write still running in
    another process (which holds that lock) is never touched.
    """
    for path in folder.iterdir():
        match = LEFTOVER.match(path.name)
        if match is None:
            continue
        with locked(folder / f".{match['name']}.lock"):
            path.unlink(missing_ok=True)
        logger.info("removed %s, left by an interrupted write", path.name)


class FileStorage:
    """All collections under one folder, with a background poll for outside changes."""

    def __init__(self, folder: Path, poll_interval_s: float = 1.0) -> None:
        self.folder = folder
        self.poll_interval_s = poll_interval_s
        self._collections: dict[str, FileCollection] = {}
        self._poller: asyncio.Task[None] | None = None

    def collection(self, name: str) -> FileCollection:
        found = self._collections.get(name)
        if found is None:
            found = FileCollection(self.folder, name)
            if self._poller is not None:
                found.load()
            self._collections[name] = found
        return found

    async def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=self.folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StorageError(
                f"storage.path {self.folder} is not writable ({exc.strerror}); "
                "give the gateway a writable data folder (a volume in a container)"
            ) from None
        remove_leftovers(self.folder)
        for collection in self._collections.values():
            collection.load()
        self._poller = asyncio.create_task(self._poll_forever(), name="file-storage-poll")

    def status(self) -> StorageStatus:
        return StorageStatus(backend="file", healthy=True)

    async def collection_names(self) -> list[str]:
        """Every collection with a file under the folder (used by ``gateway migrate``)."""
        return sorted(p.stem for p in self.folder.glob("*.json") if not p.name.startswith("."))

    async def close(self) -> None:
        await cancel_and_wait(self._poller)
        self._poller = None

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            for collection in list(self._collections.values()):
                collection.poll()
