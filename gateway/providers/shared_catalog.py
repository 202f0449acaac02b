"""The model catalog's cross-instance copy (Redis), kept in step with provider changes.

Every instance that sees a provider change (its own write, or another instance's
through the store) drops that provider's shared model list: at once in the
background, and in any case before it fetches that provider's models again, so
no instance serves the list of a provider's old configuration for a whole TTL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from gateway.cluster.cache import SharedCache, shared_by_key
from gateway.providers.catalog import Fetcher
from gateway.providers.live import LiveProvider, ProviderDirectory

NAMESPACE = "catalog"


class SharedCatalog:
    """A catalog fetcher through the shared cache, forgetting changed providers' entries."""

    def __init__(
        self,
        cache: SharedCache,
        directory: ProviderDirectory,
        ttl_s: float,
        fetch: Fetcher,
        tasks: set[asyncio.Task[None]],
    ) -> None:
        self.cache = cache
        self._directory = directory
        self._shared_fetch = shared_by_key(cache, NAMESPACE, ttl_s, fetch)
        self._tasks = tasks
        self._seen: dict[str, LiveProvider] = {}
        self._stale: set[str] = set()

    async def fetch(self, provider_id: str) -> list[str]:
        """The catalog's fetcher: one upstream call per provider per TTL across instances."""
        if provider_id in self._stale:
            await self.forget(provider_id)
        return await self._shared_fetch(provider_id)

    async def forget(self, provider_id: str) -> None:
        """Drop the shared copy of a provider's model list (a change, or a refresh).

        Until Redis confirms, a changed provider stays marked, so it is retried.
        """
        if await self.cache.delete(f"{NAMESPACE}:{provider_id}"):
            self._stale.discard(provider_id)

    def watch(self) -> Callable[[], None]:
        """Start following provider changes (once the registry has loaded); returns unsubscribe."""
        self._seen = {provider.id: provider for provider in self._directory.all()}
        return self._directory.subscribe(self._changed)

    def _changed(self, _provider_id: str | None) -> None:
        now = {provider.id: provider for provider in self._directory.all()}
        ids = self._seen.keys() | now.keys()
        changed = {pid for pid in ids if self._seen.get(pid) != now.get(pid)}
        self._seen = now
        self._stale |= changed
        loop = asyncio.get_running_loop()
        for provider_id in changed:
            task = loop.create_task(self.forget(provider_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


SHARED_CATALOG = web.AppKey("shared_catalog", SharedCatalog)
"""Only with the redis backend: the cross-instance copy behind the model catalog."""


async def forget_shared_models(app: web.Application, provider_id: str) -> None:
    """Drop the cross-instance copy of a provider's model list (before a refresh)."""
    shared = app.get(SHARED_CATALOG)
    if shared is not None:
        await shared.forget(provider_id)
