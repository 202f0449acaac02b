"""Pick the storage backend named by the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from gateway.cluster.client import Redis, redis_client
from gateway.cluster.link import RedisLink
from gateway.settings import Settings
from gateway.storage.base import Storage
from gateway.storage.file import FileStorage

Backend = Literal["file", "redis"]


def create_storage(
    settings: Settings, client: Redis | None = None, link: RedisLink | None = None
) -> Storage:
    """The configured backend; redis needs ``client`` (the worker's), ``link`` is the limiter's."""
    return create_backend(settings, settings.storage.backend, client, link)


def create_backend(
    settings: Settings, backend: Backend, client: Redis | None = None, link: RedisLink | None = None
) -> Storage:
    """A backend by name, configured from ``settings.storage`` (``gateway migrate`` uses both)."""
    if backend == "redis":
        from gateway.storage.redis import RedisStorage

        if client is None:
            raise ValueError("the redis storage backend needs a Redis client")
        return RedisStorage(client, settings.storage.redis_timeout_s, link)
    return FileStorage(settings.storage.path)


@asynccontextmanager
async def opened_storage(
    settings: Settings, backend: Backend | None = None
) -> AsyncIterator[Storage]:
    """A store for one command (the CLI's), opened, then closed with its own Redis client."""
    chosen = backend or settings.storage.backend
    client = redis_client(settings.storage) if chosen == "redis" else None
    try:
        storage = create_backend(settings, chosen, client)
        await storage.open()
        try:
            yield storage
        finally:
            await storage.close()
    finally:
        if client is not None:
            await client.aclose()
