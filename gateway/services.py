"""The chat and provider services, assembled in one place and in dependency order.

The provider registry (already set up) is the directory everything reads; on
top of it: the upstream client (behind the SSRF-guarded resolver), provider
health and its circuit breaker, the model catalog, the router that consults
both, the usage hooks, and the background health monitor and catalog prefetch.
With the redis backend, the catalog's model lists and the probes' verdicts are
shared by every instance through Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from gateway.adapters import ADAPTERS, create_adapters
from gateway.adapters.base import StreamUsage
from gateway.cluster.cache import SharedCache
from gateway.cluster.client import REDIS
from gateway.health.monitor import HealthMonitor, monitor_context
from gateway.health.shared import SHARED_PROBES, SharedProbes
from gateway.health.state import PROVIDER_HEALTH, ProviderHealth
from gateway.health.store import SharedHealth
from gateway.keys.principal import PRINCIPAL
from gateway.limits import RATE_POLICY, RatePolicy, record_tokens
from gateway.metrics import METRICS, Metrics
from gateway.providers.catalog import MODEL_CATALOG, Fetcher, ModelCatalog, upstream_model_fetcher
from gateway.providers.live import ProviderDirectory
from gateway.providers.registry import PROVIDERS, ProviderRegistry
from gateway.providers.router import ROUTER, Router, known_models
from gateway.providers.shared_catalog import SHARED_CATALOG, SharedCatalog
from gateway.security.ssrf import GuardedResolver
from gateway.state import SETTINGS
from gateway.upstream import UPSTREAM, Upstream, upstream_context
from gateway.usage import USAGE_HOOKS, UsageHook

SHARED_HEALTH_TTL = 3.0
"""Shared probe records live this many health intervals, so a stopped prober leaves none."""
BACKGROUND = web.AppKey("background_tasks", set[asyncio.Task[None]])


def setup(app: web.Application) -> None:
    """Install every chat/provider service; call after ``registry.setup(app)``."""
    settings = app[SETTINGS]
    directory = app[PROVIDERS]
    metrics = app[METRICS]
    adapters = app[ADAPTERS] = create_adapters()
    app[BACKGROUND] = set()
    allow_private = settings.private_upstreams_allowed
    app[UPSTREAM] = Upstream(settings.upstream, lambda: GuardedResolver(allow_private))
    health = app[PROVIDER_HEALTH] = ProviderHealth(
        settings.health, on_circuit_change=metrics.set_circuit
    )
    fetch: Fetcher = upstream_model_fetcher(
        directory, adapters, app[UPSTREAM], settings.catalog.timeout_s
    )
    client = app.get(REDIS)
    if client is not None:
        timeout_s = settings.storage.redis_timeout_s
        shared = app[SHARED_CATALOG] = SharedCatalog(
            SharedCache(client, timeout_s),
            directory,
            settings.catalog.ttl_s,
            fetch,
            app[BACKGROUND],
        )
        fetch = shared.fetch
        interval_s = settings.health.interval_s
        records = SharedHealth(client, timeout_s, ttl_s=SHARED_HEALTH_TTL * interval_s)
        app[SHARED_PROBES] = SharedProbes(health, records, fresh_s=interval_s / 2)
    catalog = app[MODEL_CATALOG] = ModelCatalog(fetch, settings.catalog.ttl_s, metrics=metrics)
    directory.subscribe(catalog.invalidate)
    directory.subscribe(lambda _id: configured_model_labels(directory, metrics))
    app[ROUTER] = Router(directory, settings.routing, catalog=catalog, available=health.available)
    app[USAGE_HOOKS] = [
        token_metrics(metrics),
        tokens_per_minute(app[RATE_POLICY], app[BACKGROUND]),
    ]
    app.cleanup_ctx.append(upstream_context)  # the pool the monitor and catalog use
    app.cleanup_ctx.append(monitor_context(_build_monitor))
    app.cleanup_ctx.append(_catalog_context)


def configured_model_labels(directory: ProviderDirectory, metrics: Metrics) -> None:
    """Models a provider's configuration names keep their own metric label (see ModelLabels)."""
    for provider in directory.all():
        names = [*known_models(provider), *provider.aliases.values()]
        metrics.register_configured_models(provider.id, names)


def token_metrics(metrics: Metrics) -> UsageHook:
    """Usage hook: prompt and completion tokens by provider and model."""

    def hook(request: web.Request, provider_id: str, model: str, usage: StreamUsage) -> None:
        metrics.record_tokens(
            provider_id,
            model,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens,
            usage.reasoning_tokens,
        )

    return hook


def tokens_per_minute(policy: RatePolicy, tasks: set[asyncio.Task[None]]) -> UsageHook:
    """Usage hook: count the tokens against the caller's tpm limit (in the background).

    Only when a tpm limit applies (globally or on the caller's key): no task otherwise.
    """

    def hook(request: web.Request, provider_id: str, model: str, usage: StreamUsage) -> None:
        total = usage.prompt_tokens + usage.completion_tokens
        if total <= 0 or policy.tpm(request.get(PRINCIPAL)) is None:
            return
        task = asyncio.get_running_loop().create_task(record_tokens(request, total))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return hook


def _build_monitor(app: web.Application) -> HealthMonitor | None:
    settings = app[SETTINGS]
    if not settings.health.enabled:
        return None
    adapters = app[ADAPTERS]
    return HealthMonitor(
        app[PROVIDERS],
        adapters,
        app[PROVIDER_HEALTH],
        app[UPSTREAM],
        settings.health,
        metrics=app[METRICS],
        shared=app.get(SHARED_PROBES),
    )


async def _catalog_context(app: web.Application) -> AsyncIterator[None]:
    """Fetch every enabled provider's models at start, and a provider's after it changes.

    So bare model names that only the upstreams list route from the start. With
    the redis backend, provider changes also drop the shared copies.
    """
    tasks = app[BACKGROUND]
    shared = app.get(SHARED_CATALOG)
    unsubscribers: list[Callable[[], None]] = []
    if shared is not None:
        unsubscribers.append(shared.watch())
    if app[SETTINGS].catalog.prefetch:
        registry = app[PROVIDERS]
        catalog = app[MODEL_CATALOG]

        def prefetch(provider_id: str | None = None) -> None:
            task = asyncio.get_running_loop().create_task(_prefetch(registry, catalog, provider_id))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        unsubscribers.append(registry.subscribe(prefetch))
        prefetch()
    yield
    for unsubscribe in unsubscribers:
        unsubscribe()
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _prefetch(
    registry: ProviderRegistry, catalog: ModelCatalog, provider_id: str | None
) -> None:
    """Fetch the models of one provider (after it changed), or of all (None: at start)."""
    await catalog.prefetch(
        p.id for p in registry.all() if p.enabled and provider_id in (None, p.id)
    )
