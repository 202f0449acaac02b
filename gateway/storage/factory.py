"""Pick the storage backend named by the settings."""

from __future__ import annotations

from gateway.settings import Settings
from gateway.storage.base import Storage
from gateway.storage.file import FileStorage


def create_storage(settings: Settings) -> Storage:
    if settings.storage.backend == "redis":
        from gateway.shared.client import redis_client
        from gateway.storage.redis import RedisStorage

        return RedisStorage(redis_client(settings.storage), settings.storage.redis_timeout_s)
    return FileStorage(settings.storage.path)
