"""Pick the storage backend named by the settings."""

from __future__ import annotations

from typing import Literal

from gateway.cluster.link import RedisLink
from gateway.settings import Settings
from gateway.storage.base import Storage
from gateway.storage.file import FileStorage

Backend = Literal["file", "redis"]


def create_storage(settings: Settings, link: RedisLink | None = None) -> Storage:
    """The configured backend; ``link`` is shared with the rate limiter (redis only)."""
    return create_backend(settings, settings.storage.backend, link)


def create_backend(settings: Settings, backend: Backend, link: RedisLink | None = None) -> Storage:
    """A backend by name, configured from ``settings.storage`` (``gateway migrate`` uses both)."""
    if backend == "redis":
        from gateway.cluster.client import redis_client
        from gateway.storage.redis import RedisStorage

        return RedisStorage(redis_client(settings.storage), settings.storage.redis_timeout_s, link)
    return FileStorage(settings.storage.path)
