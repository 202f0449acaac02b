"""The storage interface every backend implements: named collections of JSON documents.

Provider and key stores are thin typed layers over a Collection, so a new
backend (file today, Redis later) implements this one small interface and
every store works on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    """One change to a collection, as seen by subscribers (local or from another instance)."""

    kind: Literal["created", "updated", "deleted", "reloaded"]
    id: str | None
    """None when the whole collection was reloaded."""


Listener = Callable[[Change], None]


class StorageError(Exception):
    """The backend cannot serve the request (unreachable, corrupt, read-only)."""


class AlreadyExists(StorageError):
    pass


class DoesNotExist(StorageError):
    pass


class StorageUnavailable(StorageError):
    """The shared backend cannot be reached: reads use the last snapshot, writes fail (503)."""


@dataclass(frozen=True, slots=True)
class StorageStatus:
    """What /api/v1/health reports about the store."""

    backend: str
    healthy: bool
    error: str | None = None


class Collection(Protocol):
    """A named set of documents keyed by id."""

    name: str

    async def all(self) -> dict[str, Document]: ...

    async def get(self, doc_id: str) -> Document | None: ...

    async def create(self, doc_id: str, doc: Document) -> None:
        """Store a new document; AlreadyExists when the id is taken."""

    async def replace(self, doc_id: str, doc: Document) -> None:
        """Overwrite an existing document; DoesNotExist when absent."""

    async def delete(self, doc_id: str) -> bool:
        """Remove a document; False when it was absent."""

    async def replace_all(self, docs: dict[str, Document]) -> None:
        """Atomically swap the whole collection (rotation, migration)."""

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns the unsubscribe function."""


class Storage(Protocol):
    """A backend: opened once at start-up, closed at shutdown."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def collection(self, name: str) -> Collection: ...

    def status(self) -> StorageStatus:
        """Whether the backend is reachable now, and why not (never a secret)."""
