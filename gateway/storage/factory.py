"""Pick the storage backend named by the settings."""

from __future__ import annotations

from typing import Literal

from gateway.settings import Settings
from gateway.storage.base import Storage
from gateway.storage.file import FileStorage

Backend = Literal["file", "redis"]


def create_storage(settings: Settings) -> Storage:
    return create_backend(settings, settings.storage.backend)


def create_backend(settings: Settings, backend: Backend) -> Storage:
    """A backend by name, configured from ``settings.storage`` (``gateway migrate`` uses both)."""
    if backend == "redis":
        from gateway.shared.client import redis_client
        from gateway.storage.redis import RedisStorage

        return RedisStorage(redis_client(settings.storage), settings.storage.redis_timeout_s)
    return FileStorage(settings.storage.path)
