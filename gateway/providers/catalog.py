"""The model catalog: each provider's upstream model list, cached with a TTL.

Single-flight (concurrent cold lookups share one upstream call), stale-on-error
(a failing upstream gets its last good list served, marked stale), and
invalidated when the provider changes. The fetch function is injected;
``upstream_model_fetcher`` is the real one, paging through an adapter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from aiohttp import web

from gateway.adapters.base import ModelPage, Target, UpstreamRequest
from gateway.errors import GatewayError, NotFound, UpstreamError
from gateway.metrics import CacheResult, Metrics
from gateway.providers.live import LiveProvider, ProviderDirectory
from gateway.security.redaction import mask_secrets
from gateway.upstream import Upstream, UpstreamFailure, upstream_error

Fetcher = Callable[[str], Awaitable[list[str]]]
Clock = Callable[[], float]

MAX_PAGES = 100
ERROR_RETRY_S = 10.0
"""After a failed fetch, serve the stale list this long before asking the upstream again."""


class ModelsAdapter(Protocol):
    """The part of the Adapter protocol that lists models and explains errors."""

    def build_models(self, target: Target, cursor: str | None) -> UpstreamRequest: ...

    def parse_models(self, payload: bytes) -> ModelPage: ...

    def parse_error(self, status: int, payload: bytes) -> str: ...


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One provider's upstream models as served to a caller."""

    models: tuple[str, ...]
    fetched_at: float
    """Unix time of the upstream call that produced the list."""
    cached: bool
    """True when no upstream call was made for this answer."""
    stale: bool = False
    """True when the upstream failed and this is the last good list."""


@dataclass(frozen=True, slots=True)
class _Cached:
    models: tuple[str, ...]
    fetched_at: float
    serve_until: float
    """Monotonic deadline: the TTL, or the retry pause after an error."""
    stale: bool = False


class ModelCatalog:
    """Cached model lists per provider id."""

    def __init__(
        self,
        fetch: Fetcher,
        ttl_s: float,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        metrics: Metrics | None = None,
        error_retry_s: float = ERROR_RETRY_S,
    ) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._metrics = metrics
        self._error_retry_s = min(error_retry_s, ttl_s)
        self._entries: dict[str, _Cached] = {}
        self._inflight: dict[str, asyncio.Task[_Cached]] = {}
        self._generations: dict[str, int] = {}
        self._by_model: dict[str, tuple[str, ...]] | None = None
        """model -> provider ids, rebuilt lazily after the cached lists change (routing)."""

    async def models(self, provider_id: str) -> CatalogEntry:
        """The provider's models: from the cache while fresh, else from the upstream.

        Raises the fetcher's error only when there is no earlier good list.
        """
        cached = self._entries.get(provider_id)
        if cached is not None and self._clock() < cached.serve_until:
            self._count(provider_id, "stale" if cached.stale else "hit")
            return _entry(cached, from_cache=True)
        self._count(provider_id, "miss")
        try:
            return _entry(await self._shared_fetch(provider_id), from_cache=False)
        except UpstreamError:
            cached = self._entries.get(provider_id)
            if cached is None:
                raise
            cached = replace(cached, stale=True, serve_until=self._clock() + self._error_retry_s)
            self._entries[provider_id] = cached
            return _entry(cached, from_cache=True)

    async def refresh(self, provider_id: str) -> CatalogEntry:
        """Fetch now; on failure raise, keeping the last good list as it was."""
        return _entry(await self._shared_fetch(provider_id), from_cache=False)

    async def prefetch(self, provider_ids: Iterable[str]) -> None:
        """Make sure each provider's list is cached; failures leave it uncached (or stale)."""
        results = await asyncio.gather(
            *(self.models(pid) for pid in provider_ids), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, GatewayError):
                raise result

    def models_of(self, provider_id: str) -> tuple[str, ...]:
        """The cached upstream models of one provider, fresh or not (for routing)."""
        cached = self._entries.get(provider_id)
        return () if cached is None else cached.models

    def providers_for(self, model: str) -> tuple[str, ...]:
        """Ids of the providers whose cached upstream list contains ``model`` (for routing)."""
        index = self._by_model
        if index is None:
            found: dict[str, list[str]] = {}
            for pid, cached in self._entries.items():
                for name in cached.models:
                    found.setdefault(name, []).append(pid)
            index = self._by_model = {name: tuple(ids) for name, ids in found.items()}
        return index.get(model, ())

    def invalidate(self, provider_id: str | None = None) -> None:
        """Forget a provider's list (None: every provider's); in-flight fetches are not kept."""
        ids = (
            list(self._entries.keys() | self._inflight.keys())
            if provider_id is None
            else [provider_id]
        )
        self._by_model = None
        for pid in ids:
            self._entries.pop(pid, None)
            self._inflight.pop(pid, None)
            self._generations[pid] = self._generations.get(pid, 0) + 1

    async def _shared_fetch(self, provider_id: str) -> _Cached:
        task = self._inflight.get(provider_id)
        if task is None:
            generation = self._generations.get(provider_id, 0)
            task = asyncio.create_task(self._fetch_and_store(provider_id, generation))
            self._inflight[provider_id] = task
            task.add_done_callback(lambda done: self._settled(provider_id, done))
        # shield: one caller going away must not cancel the fetch the others wait for.
        return await asyncio.shield(task)

    async def _fetch_and_store(self, provider_id: str, generation: int) -> _Cached:
        models = tuple(dict.fromkeys(await self._fetch(provider_id)))
        cached = _Cached(models, self._wall_clock(), self._clock() + self._ttl_s)
        if self._generations.get(provider_id, 0) == generation:
            self._entries[provider_id] = cached
            self._by_model = None
            if self._metrics is not None:
                self._metrics.register_known_models(provider_id, models)
        return cached

    def _settled(self, provider_id: str, task: asyncio.Task[_Cached]) -> None:
        if self._inflight.get(provider_id) is task:
            del self._inflight[provider_id]
        if not task.cancelled():
            task.exception()  # retrieved, even when every waiter went away

    def _count(self, provider_id: str, result: CacheResult) -> None:
        if self._metrics is not None:
            self._metrics.record_cache(provider_id, result)


def _entry(cached: _Cached, *, from_cache: bool) -> CatalogEntry:
    return CatalogEntry(cached.models, cached.fetched_at, from_cache, cached.stale)


def merge_models(provider: LiveProvider, upstream: Iterable[str]) -> list[str]:
    """What a provider offers: its static list, the upstream's list and its aliases, allowed."""
    names = dict.fromkeys([*provider.static_models, *upstream, *provider.aliases])
    return [name for name in names if provider.allows(name)]


def upstream_reason(adapter: ModelsAdapter, status: int, payload: bytes) -> str:
    """An upstream error's message for an admin answer: secrets masked, then shortened."""
    return mask_secrets(adapter.parse_error(status, payload))[:300]


async def send_upstream(
    upstream: Upstream, request: UpstreamRequest, timeout_s: float, proxy: str | None = None
) -> tuple[int, bytes]:
    """Send one small request (models list, health probe): (status, body), or UpstreamError.

    Messages name the failure, never the URL (some upstreams carry keys in it).
    """
    try:
        return await upstream.fetch(request, timeout_s, proxy)
    except UpstreamFailure as exc:
        raise upstream_error(None, exc) from None


def upstream_model_fetcher(
    directory: ProviderDirectory,
    adapters: Mapping[str, ModelsAdapter],
    upstream: Upstream,
    timeout_s: float,
) -> Fetcher:
    """The catalog's fetch function: every page of a provider's upstream model list.

    ``upstream`` may be started after the catalog is built: it is used only on fetch.
    """

    async def fetch(provider_id: str) -> list[str]:
        provider = directory.get(provider_id)
        if provider is None:
            raise NotFound(f"No provider with id {provider_id!r}.", param="id")
        adapter = adapters.get(provider.adapter)
        if adapter is None:
            raise UpstreamError(
                f"Provider {provider_id!r} uses adapter {provider.adapter!r}, which is unknown.",
                code="models_unavailable",
            )
        models: list[str] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            try:
                request = adapter.build_models(provider.target, cursor)
            except Exception as exc:
                raise UpstreamError(
                    f"Provider {provider_id!r} cannot list models: {exc}",
                    code="models_unavailable",
                ) from None
            status, payload = await send_upstream(upstream, request, timeout_s, provider.proxy)
            if status >= 400:
                reason = upstream_reason(adapter, status, payload)
                raise UpstreamError(
                    f"Provider {provider_id!r} answered {status} to the models list: {reason}",
                    code="upstream_models_failed",
                )
            try:
                page = adapter.parse_models(payload)
            except Exception:
                raise UpstreamError(
                    f"Provider {provider_id!r} sent a models list that could not be read.",
                    code="upstream_models_failed",
                ) from None
            models.extend(page.ids)
            if page.next_cursor is None or page.next_cursor in seen:
                break
            seen.add(page.next_cursor)
            cursor = page.next_cursor
        return models

    return fetch


MODEL_CATALOG = web.AppKey("model_catalog", ModelCatalog)
