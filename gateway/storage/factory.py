"""Pick the storage backend named by the settings."""

from __future__ import annotations

from gateway.settings import Settings
from gateway.storage.base import Storage
from gateway.storage.file import FileStorage


def create_storage(settings: Settings) -> Storage:
    if settings.storage.backend == "file":
        return FileStorage(settings.storage.path)
    raise NotImplementedError("the redis backend is added by the scale-out work")
