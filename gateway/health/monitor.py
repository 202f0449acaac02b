"""The background health monitor: a cheap probe per enabled provider, every interval.

Probes are the template's health path when it has one, else the first page of
the models list: never a paid completion. Rounds are jittered, run with bounded
concurrency and a per-check timeout. Providers whose operator turned checks off
are judged from their traffic alone; a probe that cannot be built is reported as
``probe_unavailable``, not as an upstream failure.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiohttp import web

from gateway.adapters.base import Adapter, UpstreamRequest
from gateway.errors import UpstreamError
from gateway.health.shared import SharedProbes
from gateway.health.state import HealthStatus, ProviderHealth
from gateway.metrics import Metrics
from gateway.providers.catalog import ModelsAdapter, send_upstream, upstream_reason
from gateway.providers.live import LiveProvider, ProviderDirectory
from gateway.security.redaction import mask_secrets
from gateway.settings import HealthSettings
from gateway.tasks import cancel_and_wait
from gateway.upstream import Upstream

logger = logging.getLogger("gateway.health")

JITTER = 0.1
"""Each pause is the interval plus or minus this fraction, so workers and instances spread out."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One live check; ``as_json`` is the body of POST /api/v1/providers/{id}/test."""

    ok: bool
    latency_ms: float | None
    status_code: int | None
    error: str | None
    models_found: int | None = None
    probe_unavailable: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "latency_ms": self.latency_ms,
            "status_code": self.status_code,
            "error": self.error,
            "models_found": self.models_found,
        }


class ProbeUnavailable(Exception):
    """No cheap probe can be built for this provider."""


def build_probe(provider: LiveProvider, adapter: ModelsAdapter | None) -> UpstreamRequest:
    """The template's health path, else the first page of the models list."""
    target = provider.target
    if target.paths.health is not None:
        return UpstreamRequest(
            "GET", target.url(target.paths.health), target.headers, None, dict(target.query)
        )
    if adapter is None:
        raise ProbeUnavailable(f"no adapter named {provider.adapter!r}")
    try:
        return adapter.build_models(target, None)
    except Exception as exc:
        raise ProbeUnavailable(str(exc) or type(exc).__name__) from None


async def probe_provider(
    provider: LiveProvider,
    adapter: ModelsAdapter | None,
    upstream: Upstream,
    timeout_s: float,
) -> ProbeResult:
    """Check one provider now with its stored credentials; never raises for upstream trouble."""
    try:
        request = build_probe(provider, adapter)
    except ProbeUnavailable as exc:
        return ProbeResult(False, None, None, f"probe_unavailable: {exc}", probe_unavailable=True)
    answer = await _send_probe(upstream, request, timeout_s, adapter, provider.proxy)
    if isinstance(answer, ProbeResult):
        return answer
    latency_ms, status, payload = answer
    if provider.target.paths.health is not None or adapter is None:
        return ProbeResult(True, latency_ms, status, None)
    try:
        found = len(adapter.parse_models(payload).ids)
    except Exception:
        return ProbeResult(False, latency_ms, status, "the models list could not be read")
    return ProbeResult(True, latency_ms, status, None, found)


PING: Final = {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}


async def probe_completion(
    provider: LiveProvider,
    adapter: Adapter,
    upstream: Upstream,
    timeout_s: float,
    model: str,
) -> ProbeResult:
    """A one-token completion with the stored credentials (a paid call: only when asked)."""
    body = {**PING, "model": model}
    request = adapter.build_chat(
        provider.target, body, orjson.dumps(body), provider.upstream_model(model), False
    )
    answer = await _send_probe(upstream, request, timeout_s, adapter, provider.proxy)
    if isinstance(answer, ProbeResult):
        return answer
    latency_ms, status, payload = answer
    try:
        adapter.parse_chat(payload, model)
    except Exception:
        return ProbeResult(False, latency_ms, status, "the completion could not be read")
    return ProbeResult(True, latency_ms, status, None)


async def _send_probe(
    upstream: Upstream,
    request: UpstreamRequest,
    timeout_s: float,
    adapter: ModelsAdapter | None,
    proxy: str | None,
) -> tuple[float, int, bytes] | ProbeResult:
    """Send a probe: (latency ms, status, body) on a 2xx/3xx, else the failed ProbeResult."""
    started = time.perf_counter()
    try:
        status, payload = await send_upstream(upstream, request, timeout_s, proxy)
    except UpstreamError as exc:
        return ProbeResult(False, _ms_since(started), None, mask_secrets(exc.message))
    latency_ms = _ms_since(started)
    if status >= 400:
        reason = upstream_reason(adapter, status, payload) if adapter else f"HTTP {status}"
        return ProbeResult(False, latency_ms, status, reason)
    return latency_ms, status, payload


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 1)


class HealthMonitor:
    """Checks every enabled provider of a directory, round after round."""

    def __init__(
        self,
        directory: ProviderDirectory,
        adapters: Mapping[str, ModelsAdapter],
        health: ProviderHealth,
        upstream: Upstream,
        settings: HealthSettings,
        *,
        metrics: Metrics | None = None,
        shared: SharedProbes | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._directory = directory
        self._adapters = adapters
        self._health = health
        self._upstream = upstream
        self._settings = settings
        self._metrics = metrics
        self._shared = shared
        self._rng = rng
        self._tracked: set[str] = set()

    async def run(self) -> None:
        """Forever: a round of checks, then a jittered pause."""
        await asyncio.sleep(min(1.0, self._settings.interval_s) * self._rng())
        while True:
            await self.check_all()
            jitter = 1.0 + JITTER * (2.0 * self._rng() - 1.0)
            await asyncio.sleep(self._settings.interval_s * jitter)

    async def check_all(self) -> None:
        """One round over every provider, at most ``concurrency`` probes at a time."""
        providers = list(self._directory.all())
        current = {provider.id for provider in providers}
        for gone in self._tracked - current:
            self._health.reset(gone)
            if self._metrics is not None:
                self._metrics.forget_provider(gone)
        self._tracked = current
        slots = asyncio.Semaphore(self._settings.concurrency)

        async def one(provider: LiveProvider) -> None:
            async with slots:
                await self._check_one(provider)

        await asyncio.gather(*(one(provider) for provider in providers))

    async def check(self, provider: LiveProvider) -> ProbeResult:
        """Probe one provider now and record (and, with shared health, publish) the outcome."""
        result = await probe_provider(
            provider, self._adapters.get(provider.adapter), self._upstream, self._settings.timeout_s
        )
        if result.probe_unavailable:
            self._health.record_probe_unavailable(provider.id, result.error or "")
        else:
            latency_s = (result.latency_ms or 0.0) / 1000.0
            self._health.record_probe(provider.id, latency_s, None if result.ok else result.error)
        if self._shared is not None:
            await self._shared.publish(provider.id)
        return result

    async def _check_one(self, provider: LiveProvider) -> None:
        if not provider.enabled:
            self._health.reset(provider.id)
        elif provider.health_checks:
            try:
                if self._shared is None or not await self._shared.adopt(provider.id):
                    await self.check(provider)
            except Exception:
                logger.exception("health check of provider %s failed", provider.id)
        self._publish(provider.id)

    def _publish(self, provider_id: str) -> None:
        if self._metrics is None:
            return
        status = self._health.state(provider_id).status
        up = None if status is HealthStatus.UNKNOWN else status is not HealthStatus.UNHEALTHY
        self._metrics.set_provider_up(provider_id, up)


def monitor_context(
    build: Callable[[web.Application], HealthMonitor | None],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx that runs the monitor ``build(app)`` returns (None: health is off)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        monitor = build(app)
        task = None if monitor is None else asyncio.create_task(monitor.run())
        yield
        await cancel_and_wait(task)

    return context
