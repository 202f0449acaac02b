"""Redis backend: collections shared by every gateway instance, served from a local snapshot.

Each collection is a hash ``gw:store:<name>`` (field id -> JSON document) with a
revision counter ``gw:store:<name>:rev``. Every write is one Lua script that
checks, writes, bumps the revision and PUBLISHes the change on
``gw:changes:<name>``, so the order of messages is the order of writes. A
background task applies those messages to the in-memory snapshot of every
instance (within milliseconds), and after a reconnect reloads everything.

Reads never touch Redis: when it is unreachable, the last snapshot keeps chat
working; writes raise StorageUnavailable (the API answers 503) within
``storage.redis_timeout_s``, at once while the RedisLink (shared with the rate
limiter) says Redis hangs. The watcher reconnects with jittered backoff of at most half a
second, so health and writes follow Redis within a second of its return, and
instances do not all reconnect at the same moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections.abc import Callable
from typing import Any, Literal, cast

from redis.asyncio.client import PubSub

from gateway.cluster.client import TIMEOUTS, UNREACHABLE, Redis, bounded, describe
from gateway.cluster.link import RedisLink
from gateway.storage.base import (
    AlreadyExists,
    Change,
    Document,
    DoesNotExist,
    Listener,
    StorageStatus,
    StorageUnavailable,
)
from gateway.storage.listeners import Listeners

logger = logging.getLogger("gateway.storage.redis")

PREFIX = "gw:store:"
CHANNEL_PREFIX = "gw:changes:"
WATCHDOG_INTERVAL_S = 1.0
BACKOFF_START_S = 0.05
BACKOFF_MAX_S = 0.5
STARTUP_WAIT_S = 5.0
"""At start-up, PINGs that time out are tried again for this long: no request waits on
them, and a loaded host may take longer than ``redis_timeout_s`` to answer the first one.
A refused connection (no Redis there) fails at once."""

UNAVAILABLE_MESSAGE = (
    "The shared store (Redis) is unreachable, so changes cannot be saved right now; "
    "requests keep using the last known providers and keys. Try again shortly."
)

# KEYS: hash, rev. ARGV: channel, id, doc. Returns the new revision, or -1 when refused.
_CREATE = """
if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 0 then return -1 end
local rev = redis.call('INCR', KEYS[2])
local head = cjson.encode({kind='created', id=ARGV[2], rev=rev})
redis.call('PUBLISH', ARGV[1], head .. '\\n' .. ARGV[3])
return rev
"""
_REPLACE = """
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return -1 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
local rev = redis.call('INCR', KEYS[2])
local head = cjson.encode({kind='updated', id=ARGV[2], rev=rev})
redis.call('PUBLISH', ARGV[1], head .. '\\n' .. ARGV[3])
return rev
"""
_DELETE = """
if redis.call('HDEL', KEYS[1], ARGV[2]) == 0 then return -1 end
local rev = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], cjson.encode({kind='deleted', id=ARGV[2], rev=rev}) .. '\\n')
return rev
"""
# ARGV: channel, then id, doc pairs.
_REPLACE_ALL = """
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local rev = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], cjson.encode({kind='reloaded', rev=rev}) .. '\\n')
return rev
"""
# The whole collection and the revision it corresponds to, read atomically.
_SNAPSHOT = """
return {tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('HGETALL', KEYS[1])}
"""


def _encode(doc: Document) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


class RedisCollection:
    """One collection: a local snapshot kept current from Redis, writes through Lua scripts."""

    def __init__(self, storage: RedisStorage, name: str) -> None:
        self.name = name
        self.key = f"{PREFIX}{name}"
        self.rev_key = f"{self.key}:rev"
        self.channel = f"{CHANNEL_PREFIX}{name}"
        self._storage = storage
        self._docs: dict[str, Document] = {}
        self._base_rev = 0
        """Revision of the last full load; older messages are already included."""
        self._doc_rev: dict[str, int] = {}
        """Revision of the last change applied per id (deletions included)."""
        self._loaded = False
        self._load_lock = asyncio.Lock()
        self._listeners: Listeners[Change] = Listeners(logger, f"storage listener for {name}")

    @property
    def loaded(self) -> bool:
        return self._loaded

    async def all(self) -> dict[str, Document]:
        await self._ensure_loaded()
        return dict(self._docs)

    async def get(self, doc_id: str) -> Document | None:
        await self._ensure_loaded()
        return self._docs.get(doc_id)

    async def create(self, doc_id: str, doc: Document) -> None:
        rev = await self._run(_CREATE, doc_id, _encode(doc))
        if rev < 0:
            raise AlreadyExists(doc_id)
        self._apply("created", doc_id, doc, rev)

    async def replace(self, doc_id: str, doc: Document) -> None:
        rev = await self._run(_REPLACE, doc_id, _encode(doc))
        if rev < 0:
            raise DoesNotExist(doc_id)
        self._apply("updated", doc_id, doc, rev)

    async def delete(self, doc_id: str) -> bool:
        rev = await self._run(_DELETE, doc_id)
        if rev < 0:
            # Another instance may have deleted it first; keep the snapshot honest.
            self._docs.pop(doc_id, None)
            return False
        self._apply("deleted", doc_id, None, rev)
        return True

    async def replace_all(self, docs: dict[str, Document]) -> None:
        pairs = [part for doc_id, doc in docs.items() for part in (doc_id, _encode(doc))]
        await self._run(_REPLACE_ALL, *pairs)
        await self.reload()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._listeners.subscribe(listener)

    async def reload(self, *, notify: bool = True) -> None:
        """Replace the snapshot with what Redis holds now."""
        client = self._storage.client
        result = await bounded(
            client.eval(_SNAPSHOT, 2, self.key, self.rev_key),
            self._storage.timeout_s,
        )
        rev, flat = cast(tuple[int, list[bytes]], result)
        docs = {flat[i].decode(): json.loads(flat[i + 1]) for i in range(0, len(flat), 2)}
        self._docs = docs
        self._base_rev = int(rev)
        self._doc_rev.clear()
        self._loaded = True
        if notify:
            self._listeners.emit(Change("reloaded", None))

    def on_message(self, data: bytes) -> None:
        """Apply one change published by any instance (ours included, ignored by revision)."""
        header, _, body = data.partition(b"\n")
        meta = json.loads(header)
        kind, rev = meta["kind"], int(meta["rev"])
        if kind == "reloaded":
            if rev > self._base_rev:
                self._storage.request_reload(self)
            return
        doc = json.loads(body) if kind != "deleted" else None
        self._apply(kind, str(meta["id"]), doc, rev)

    def _apply(
        self,
        kind: Literal["created", "updated", "deleted"],
        doc_id: str,
        doc: Document | None,
        rev: int,
    ) -> None:
        if rev <= max(self._base_rev, self._doc_rev.get(doc_id, 0)):
            return
        self._doc_rev[doc_id] = rev
        if doc is None:
            self._docs.pop(doc_id, None)
        else:
            self._docs[doc_id] = doc
        self._listeners.emit(Change(kind, doc_id))

    async def _ensure_loaded(self) -> None:
        if self._loaded or not self._storage.healthy:
            return  # while Redis is down, a never-loaded collection reads as empty
        async with self._load_lock:
            if self._loaded:
                return
            try:
                await self.reload(notify=False)
            except UNAVAILABLE_ERRORS as exc:
                self._storage.mark_down(exc)
                # Serve an empty view rather than fail reads; the resync fills it in.
                logger.warning("collection %s not loaded yet: Redis unreachable", self.name)

    async def _run(self, script: str, *args: str) -> int:
        storage = self._storage
        if storage.link.hung:
            raise StorageUnavailable(UNAVAILABLE_MESSAGE)  # known to hang: no second wait
        try:
            result = await bounded(
                storage.client.eval(script, 2, self.key, self.rev_key, self.channel, *args),
                storage.timeout_s,
            )
        except UNAVAILABLE_ERRORS as exc:
            storage.mark_down(exc)
            raise StorageUnavailable(UNAVAILABLE_MESSAGE) from None
        return int(cast(int, result))


UNAVAILABLE_ERRORS = UNREACHABLE


class RedisStorage:
    """Collections in one Redis, with a watcher task that follows other instances' writes.

    ``client`` belongs to the caller (the worker's, see gateway.cluster.client), who closes it.
    """

    def __init__(self, client: Redis, timeout_s: float, link: RedisLink | None = None) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.instance_id = uuid.uuid4().hex
        self.link = link if link is not None else RedisLink()
        self.healthy = False
        self.last_error: str | None = "not opened yet"
        self._collections: dict[str, RedisCollection] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._closing = False
        self._pending_reloads: set[RedisCollection] = set()

    def collection(self, name: str) -> RedisCollection:
        found = self._collections.get(name)
        if found is None:
            found = self._collections[name] = RedisCollection(self, name)
        return found

    def status(self) -> StorageStatus:
        return StorageStatus(backend="redis", healthy=self.healthy, error=self.last_error)

    async def collection_names(self) -> list[str]:
        """Every collection stored in Redis (used by ``gateway migrate``)."""
        names: set[str] = set()
        try:
            async with asyncio.timeout(self.timeout_s * 10):
                async for raw in self.client.scan_iter(match=f"{PREFIX}*", _type="hash"):
                    names.add(raw.decode()[len(PREFIX) :])
        except UNAVAILABLE_ERRORS as exc:
            self.mark_down(exc)
            raise StorageUnavailable(UNAVAILABLE_MESSAGE) from None
        return sorted(names)

    async def open(self) -> None:
        """Load every collection; refuse to start when Redis cannot be reached at all."""
        try:
            await self._first_ping()
            for collection in list(self._collections.values()):
                await collection.reload(notify=False)
        except UNAVAILABLE_ERRORS as exc:
            raise StorageUnavailable(
                f"cannot reach Redis at start-up ({describe(exc)}); "
                "check storage.redis_url and that Redis is running"
            ) from None
        self.mark_up()
        self._watcher = asyncio.create_task(self._watch(), name="redis-storage-watch")

    async def _first_ping(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_WAIT_S
        while True:
            try:
                await bounded(self.client.ping(), self.timeout_s)
                return
            except TIMEOUTS:
                if loop.time() + self.timeout_s > deadline:
                    raise

    async def close(self) -> None:
        self._closing = True  # a cancel racing redis-py's read timeout can be lost; this cannot
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.wait([self._watcher], timeout=self.timeout_s + 1)
            self._watcher = None

    def mark_down(self, exc: BaseException) -> None:
        self.link.failed(isinstance(exc, TIMEOUTS))
        if self.healthy:
            logger.warning("Redis unreachable: %s", describe(exc))
        self.healthy = False
        self.last_error = f"redis unreachable: {describe(exc)}"

    def mark_up(self) -> None:
        self.link.succeeded()
        if not self.healthy and self._watcher is not None:
            logger.info("Redis reachable again")
        self.healthy = True
        self.last_error = None

    def request_reload(self, collection: RedisCollection) -> None:
        self._pending_reloads.add(collection)

    async def _watch(self) -> None:
        """Follow changes forever; after any disconnect, back off, resubscribe and resync."""
        backoff = BACKOFF_START_S
        first = True
        while not self._closing:
            pubsub = self.client.pubsub()
            try:
                await bounded(pubsub.psubscribe(f"{CHANNEL_PREFIX}*"), self.timeout_s)
                if not first:
                    for collection in list(self._collections.values()):
                        await collection.reload()
                first = False
                self.mark_up()
                backoff = BACKOFF_START_S
                await self._follow(pubsub)
            except asyncio.CancelledError:
                raise
            except UNAVAILABLE_ERRORS as exc:
                self.mark_down(exc)
                first = False
            except Exception as exc:  # never let the watcher die: resync from scratch
                logger.exception("Redis change watcher failed; reconnecting")
                self.mark_down(exc)
                first = False
            finally:
                with contextlib.suppress(*UNAVAILABLE_ERRORS):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            if self._closing:
                return
            # Jittered, so instances that lost Redis together do not return together.
            await asyncio.sleep(random.uniform(backoff / 2, backoff))
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _follow(self, pubsub: PubSub) -> None:
        idle = 0.0
        while not self._closing:
            message: dict[str, Any] | None = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=WATCHDOG_INTERVAL_S / 4
            )
            if message is not None and message.get("type") == "pmessage":
                idle = 0.0
                name = message["channel"].decode()[len(CHANNEL_PREFIX) :]
                collection = self._collections.get(name)
                if collection is not None and collection.loaded:
                    try:
                        collection.on_message(message["data"])
                    except (ValueError, KeyError):
                        logger.exception("ignoring a malformed change message on %s", name)
            elif message is None:
                idle += WATCHDOG_INTERVAL_S / 4
            if self._pending_reloads:
                pending, self._pending_reloads = self._pending_reloads, set()
                for collection in pending:
                    await collection.reload()
            if idle >= WATCHDOG_INTERVAL_S:
                # A silent channel may hide a dead server: check the command path too.
                await bounded(self.client.ping(), self.timeout_s)
                idle = 0.0
