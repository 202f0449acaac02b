"""Copy collections between backends as stored (provider keys stay encrypted)."""

from __future__ import annotations

from typing import Protocol

from gateway.storage.base import Storage


class Enumerable(Storage, Protocol):
    """A backend that can list the collections it holds."""

    async def collection_names(self) -> list[str]: ...


async def migrate(
    source: Enumerable, target: Storage, names: list[str] | None = None
) -> dict[str, int]:
    """Replace each collection in ``target`` with the one in ``source``; counts per collection.

    Both backends must be open. Collections of ``target`` not in ``source`` are left alone.
    """
    copied: dict[str, int] = {}
    for name in names if names is not None else await source.collection_names():
        docs = await source.collection(name).all()
        await target.collection(name).replace_all(docs)
        copied[name] = len(docs)
    return copied
