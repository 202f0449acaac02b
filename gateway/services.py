"""The chat and provider services, assembled in one place and in dependency order.

The provider registry (already set up) is the directory everything reads; on
top of it: the upstream client (behind the SSRF-guarded resolver), provider
health and its circuit breaker, the model catalog, the router that consults
both, the usage hooks, and the background health monitor and catalog prefetch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from gateway.adapters import ADAPTERS
from gateway.adapters.base import StreamUsage
from gateway.keys.principal import PRINCIPAL
from gateway.metrics import METRICS, Metrics
from gateway.middleware.rate_limit import record_tokens
from gateway.providers.catalog import MODEL_CATALOG, Fetcher, ModelCatalog, upstream_model_fetcher
from gateway.providers.health import PROVIDER_HEALTH, ProviderHealth
from gateway.providers.monitor import HealthMonitor, monitor_context
from gateway.providers.registry import PROVIDERS, ProviderRegistry
from gateway.providers.router import ROUTER, Router
from gateway.security.ssrf import GuardedResolver
from gateway.settings import RateLimitSettings
from gateway.shared.cache import SharedCache, shared_by_key
from gateway.state import SETTINGS
from gateway.upstream import UPSTREAM, Upstream, upstream_context
from gateway.usage import USAGE_HOOKS, UsageHook

SHARED_CACHE = web.AppKey("shared_cache", SharedCache)
"""Only with the redis backend: the cross-instance cache behind the model catalog."""
CATALOG_NAMESPACE = "catalog"
BACKGROUND = web.AppKey("background_tasks", set[asyncio.Task[None]])


def setup(app: web.Application) -> None:
    """Install every chat/provider service; call after ``registry.setup(app)``."""
    settings = app[SETTINGS]
    directory = app[PROVIDERS]
    metrics = app[METRICS]
    app[BACKGROUND] = set()
    allow_private = settings.private_upstreams_allowed
    app[UPSTREAM] = Upstream(settings.upstream, lambda: GuardedResolver(allow_private))
    health = app[PROVIDER_HEALTH] = ProviderHealth(
        settings.health, on_circuit_change=metrics.set_circuit
    )
    fetch: Fetcher = upstream_model_fetcher(
        directory, ADAPTERS, lambda: app[UPSTREAM].session, settings.catalog.timeout_s
    )
    if settings.storage.backend == "redis":
        from gateway.shared.client import redis_client

        shared = app[SHARED_CACHE] = SharedCache(
            redis_client(settings.storage), settings.storage.redis_timeout_s
        )
        fetch = shared_by_key(shared, CATALOG_NAMESPACE, settings.catalog.ttl_s, fetch)
    catalog = app[MODEL_CATALOG] = ModelCatalog(fetch, settings.catalog.ttl_s, metrics=metrics)
    directory.subscribe(catalog.invalidate)
    app[ROUTER] = Router(directory, settings.routing, catalog=catalog, available=health.available)
    app[USAGE_HOOKS] = [
        token_metrics(metrics),
        tokens_per_minute(settings.rate_limit, app[BACKGROUND]),
    ]
    app.cleanup_ctx.append(upstream_context)  # the session the monitor and catalog use
    app.cleanup_ctx.append(monitor_context(_build_monitor))
    app.cleanup_ctx.append(_catalog_context)


async def forget_shared_models(app: web.Application, provider_id: str) -> None:
    """Drop the cross-instance copy of a provider's model list (before a refresh)."""
    shared = app.get(SHARED_CACHE)
    if shared is not None:
        await shared.delete(f"{CATALOG_NAMESPACE}:{provider_id}")


def token_metrics(metrics: Metrics) -> UsageHook:
    """Usage hook: prompt and completion tokens by provider and model."""

    def hook(request: web.Request, provider_id: str, model: str, usage: StreamUsage) -> None:
        metrics.record_tokens(provider_id, model, usage.prompt_tokens, usage.completion_tokens)

    return hook


def tokens_per_minute(settings: RateLimitSettings, tasks: set[asyncio.Task[None]]) -> UsageHook:
    """Usage hook: count the tokens against the caller's tpm limit (in the background).

    Only when a tpm limit applies (globally or on the caller's key): no task otherwise.
    """

    def hook(request: web.Request, provider_id: str, model: str, usage: StreamUsage) -> None:
        total = usage.prompt_tokens + usage.completion_tokens
        if total <= 0 or not settings.enabled:
            return
        principal = request.get(PRINCIPAL)
        if settings.tpm is None and (principal is None or principal.tpm is None):
            return
        task = asyncio.get_running_loop().create_task(record_tokens(request, total))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return hook


def _build_monitor(app: web.Application) -> HealthMonitor | None:
    settings = app[SETTINGS]
    if not settings.health.enabled:
        return None
    return HealthMonitor(
        app[PROVIDERS],
        ADAPTERS,
        app[PROVIDER_HEALTH],
        app[UPSTREAM].session,
        settings.health,
        metrics=app[METRICS],
    )


async def _catalog_context(app: web.Application) -> AsyncIterator[None]:
    """Fetch every enabled provider's models at start and after each provider change.

    So bare model names that only the upstreams list route from the start.
    """
    tasks = app[BACKGROUND]
    unsubscribe: Callable[[], None] | None = None
    if app[SETTINGS].catalog.prefetch:
        registry = app[PROVIDERS]
        catalog = app[MODEL_CATALOG]

        def prefetch(_provider_id: str | None = None) -> None:
            task = asyncio.get_running_loop().create_task(_prefetch(registry, catalog))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        unsubscribe = registry.subscribe(prefetch)
        prefetch()
    yield
    if unsubscribe is not None:
        unsubscribe()
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    shared = app.get(SHARED_CACHE)
    if shared is not None:
        await shared.client.aclose()


async def _prefetch(registry: ProviderRegistry, catalog: ModelCatalog) -> None:
    await catalog.prefetch(p.id for p in registry.all() if p.enabled)
