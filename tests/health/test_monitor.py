"""The health monitor against a fake upstream over real HTTP, with short intervals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from gateway.adapters.base import TemplatePaths
from gateway.health.monitor import HealthMonitor, monitor_context, probe_provider
from gateway.health.state import HealthStatus, ProviderHealth
from gateway.metrics import Metrics
from gateway.providers.live import LiveProvider
from gateway.settings import HealthSettings, MetricsSettings
from gateway.upstream import Upstream
from tests.conftest import AppClient
from tests.fakes.models_upstream import ModelsUpstream, OpenAIModelsAdapter
from tests.fakes.providers import Directory, live_provider

ADAPTER = OpenAIModelsAdapter()


def make_monitor(
    upstream_client: Upstream,
    providers: list[LiveProvider],
    metrics: Metrics | None = None,
    **overrides: Any,
) -> tuple[HealthMonitor, ProviderHealth]:
    values: dict[str, Any] = {"interval_s": 0.05, "timeout_s": 2, "unhealthy_after": 2}
    settings = HealthSettings.model_validate(values | overrides)
    health = ProviderHealth(settings)
    monitor = HealthMonitor(
        Directory(providers),
        {"openai": ADAPTER},
        health,
        upstream_client,
        settings,
        metrics=metrics,
    )
    return monitor, health


def provider_up(metrics: Metrics, provider: str) -> float | None:
    text = metrics.exposition().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gateway_provider_up" and sample.labels["provider"] == provider:
                return sample.value
    return None


async def wait_for(predicate: Callable[[], bool]) -> None:
    """Poll the monitor's effect for up to 3 s."""
    for _ in range(300):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


async def test_healthy_unhealthy_healthy(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    metrics = Metrics(MetricsSettings())
    monitor, health = make_monitor(upstream_client, [live_provider("p", upstream_url)], metrics)
    assert health.state("p").status is HealthStatus.UNKNOWN
    task = asyncio.create_task(monitor.run())
    try:
        await wait_for(lambda: health.state("p").status is HealthStatus.HEALTHY)
        assert health.state("p").latency_ms is not None
        assert provider_up(metrics, "p") == 1

        upstream.status = 503
        await wait_for(lambda: health.state("p").status is HealthStatus.UNHEALTHY)
        report = health.report("p")
        assert report["consecutive_failures"] >= 2
        assert report["last_error"] == "The server is overloaded."
        assert provider_up(metrics, "p") == 0

        upstream.status = 200
        await wait_for(lambda: health.state("p").status is HealthStatus.HEALTHY)
        assert health.report("p")["consecutive_failures"] == 0
    finally:
        task.cancel()
    assert upstream.calls >= 4  # it kept checking on its own


async def test_bounded_concurrency_and_per_check_timeout(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    upstream.delay = 0.1
    providers = [live_provider(f"p{i}", upstream_url) for i in range(6)]
    monitor, health = make_monitor(upstream_client, providers, concurrency=2)
    await monitor.check_all()
    assert upstream.calls == 6
    assert upstream.max_in_flight == 2
    assert all(health.state(p.id).status is HealthStatus.HEALTHY for p in providers)

    slow, slow_health = make_monitor(upstream_client, providers[:1], timeout_s=0.02)
    await slow.check_all()
    state = slow_health.state("p0")
    assert state.status is HealthStatus.DEGRADED  # one failure: not unhealthy yet
    assert state.last_error is not None and "took longer than" in state.last_error


async def test_probe_unavailable_is_reported_not_counted_as_a_failure(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    provider = live_provider("p", upstream_url, paths=TemplatePaths(models=None))
    monitor, health = make_monitor(upstream_client, [provider])
    for _ in range(3):
        await monitor.check_all()
    state = health.state("p")
    assert state.status is HealthStatus.UNKNOWN
    assert state.probe_unavailable and state.consecutive_failures == 0
    assert state.last_error == "probe_unavailable: this provider has no models path"
    assert upstream.calls == 0


async def test_health_path_is_preferred_to_the_models_list(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    base = upstream_url.removesuffix("/v1")
    provider = live_provider("p", base, paths=TemplatePaths(health="/healthz"))
    monitor, health = make_monitor(upstream_client, [provider])
    await monitor.check_all()
    assert (upstream.health_calls, upstream.calls) == (1, 0)
    assert health.state("p").status is HealthStatus.HEALTHY


async def test_checks_off_and_disabled_providers_are_not_probed(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    passive = live_provider("passive", upstream_url, health_checks=False)
    disabled = live_provider("off", upstream_url, enabled=False)
    metrics = Metrics(MetricsSettings())
    monitor, health = make_monitor(upstream_client, [passive, disabled], metrics, min_requests=2)
    await monitor.check_all()
    assert upstream.calls == 0
    assert health.state("passive").status is HealthStatus.UNKNOWN
    assert provider_up(metrics, "passive") is None  # unknown: no series
    health.record_traffic("passive", ok=False)
    health.record_traffic("passive", ok=False)
    await monitor.check_all()
    assert health.state("passive").status is HealthStatus.UNHEALTHY  # judged from traffic
    assert provider_up(metrics, "passive") == 0
    assert health.state("off").status is HealthStatus.UNKNOWN
    assert upstream.calls == 0


async def test_live_test_with_valid_and_wrong_key(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    good = await probe_provider(live_provider("p", upstream_url), ADAPTER, upstream_client, 2)
    assert good.as_json() == {
        "ok": True,
        "latency_ms": good.latency_ms,
        "status_code": 200,
        "error": None,
        "models_found": 3,
    }
    wrong = live_provider("p", upstream_url, key="sk-not-valid")
    bad = (await probe_provider(wrong, ADAPTER, upstream_client, 2)).as_json()
    assert (bad["ok"], bad["status_code"], bad["models_found"]) == (False, 401, None)
    assert bad["error"] == "Incorrect API key provided."


async def test_monitor_runs_inside_the_app_lifecycle(
    aiohttp_client: AppClient,
    upstream_client: Upstream,
    upstream: ModelsUpstream,
    upstream_url: str,
) -> None:
    monitor, health = make_monitor(upstream_client, [live_provider("p", upstream_url)])
    app = web.Application()
    app.cleanup_ctx.append(monitor_context(lambda _app: monitor))
    client = await aiohttp_client(app)
    await wait_for(lambda: upstream.calls >= 2)
    await client.close()
    calls = upstream.calls
    await asyncio.sleep(0.2)
    assert upstream.calls == calls  # stopped with the app
    assert health.state("p").status is HealthStatus.HEALTHY


async def test_removed_providers_are_forgotten(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    metrics = Metrics(MetricsSettings())
    directory = Directory([live_provider("a", upstream_url), live_provider("b", upstream_url)])
    settings = HealthSettings()
    health = ProviderHealth(settings, on_circuit_change=metrics.set_circuit)
    monitor = HealthMonitor(
        directory, {"openai": ADAPTER}, health, upstream_client, settings, metrics=metrics
    )
    await monitor.check_all()
    assert provider_up(metrics, "a") == 1 and provider_up(metrics, "b") == 1
    for _ in range(settings.breaker_failures):
        health.record_traffic("b", ok=False)
    assert 'gateway_provider_circuit_state{provider="b"} 2.0' in metrics.exposition().decode()

    del directory.providers["b"]
    await monitor.check_all()
    assert provider_up(metrics, "b") is None
    assert 'provider="b"' not in metrics.exposition().decode()
    assert health.report("b")["circuit"] == "closed"
    assert health.state("b").status is HealthStatus.UNKNOWN
