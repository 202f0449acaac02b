"""Model catalog over real HTTP: hit, miss, TTL, single-flight, stale-on-error, refresh."""

from __future__ import annotations

import asyncio
import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.errors import UpstreamError
from gateway.metrics import Metrics
from gateway.providers.catalog import (
    Fetcher,
    ModelCatalog,
    merge_models,
    upstream_model_fetcher,
)
from gateway.settings import MetricsSettings
from gateway.upstream import Upstream
from tests.fakes.models_upstream import ModelsUpstream, OpenAIModelsAdapter
from tests.fakes.providers import Directory, FakeClock, live_provider

ADAPTERS = {"openai": OpenAIModelsAdapter()}


def fetcher(upstream_client: Upstream, url: str, key: str = "sk-fake-key") -> Fetcher:
    directory = Directory([live_provider("p", url, key)])
    return upstream_model_fetcher(directory, ADAPTERS, upstream_client, timeout_s=5)


def cache_counts(metrics: Metrics) -> dict[str, float]:
    text = metrics.exposition().decode()
    return {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gateway_model_cache_lookups_total"
    }


async def test_miss_then_hit_then_ttl(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    clock = FakeClock()
    metrics = Metrics(MetricsSettings())
    catalog = ModelCatalog(
        fetcher(upstream_client, upstream_url), 600, clock=clock, metrics=metrics
    )

    first = await catalog.models("p")
    assert first.models == ("gpt-4o", "gpt-4o-mini", "o3")
    assert (first.cached, first.stale) == (False, False)
    second = await catalog.models("p")
    assert (second.cached, second.models, second.fetched_at) == (
        True,
        first.models,
        first.fetched_at,
    )
    assert upstream.calls == 1

    clock.advance(599)
    assert (await catalog.models("p")).cached
    clock.advance(1)
    upstream.models = ["gpt-5"]
    expired = await catalog.models("p")
    assert (expired.cached, expired.models) == (False, ("gpt-5",))
    assert upstream.calls == 2
    assert cache_counts(metrics) == {"hit": 2, "miss": 2}
    assert metrics.models.label("p", "gpt-5", False) == "gpt-5"  # the catalog feeds labels


async def test_single_flight(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    upstream.delay = 0.2
    catalog = ModelCatalog(fetcher(upstream_client, upstream_url), 600)
    entries = await asyncio.gather(*(catalog.models("p") for _ in range(100)))
    assert upstream.calls == 1
    assert {entry.models for entry in entries} == {("gpt-4o", "gpt-4o-mini", "o3")}


async def test_a_cancelled_waiter_does_not_cancel_the_shared_fetch(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    upstream.delay = 0.2
    catalog = ModelCatalog(fetcher(upstream_client, upstream_url), 600)
    impatient = asyncio.create_task(catalog.models("p"))
    patient = asyncio.create_task(catalog.models("p"))
    await asyncio.sleep(0.05)
    impatient.cancel()
    assert (await patient).models == ("gpt-4o", "gpt-4o-mini", "o3")
    assert upstream.calls == 1


async def test_stale_on_error_then_recovery(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    clock = FakeClock()
    catalog = ModelCatalog(fetcher(upstream_client, upstream_url), 60, clock=clock, error_retry_s=5)
    good = await catalog.models("p")

    clock.advance(61)
    upstream.status = 500
    stale = await catalog.models("p")
    assert (stale.models, stale.stale, stale.fetched_at) == (good.models, True, good.fetched_at)
    assert upstream.calls == 2
    clock.advance(4)
    assert (await catalog.models("p")).stale
    assert upstream.calls == 2  # a failing upstream is not asked on every request

    clock.advance(1)
    upstream.status = 200
    upstream.models = ["recovered"]
    fresh = await catalog.models("p")
    assert (fresh.models, fresh.stale, fresh.cached) == (("recovered",), False, False)


async def test_cold_failure_raises_without_leaking_the_key(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    catalog = ModelCatalog(fetcher(upstream_client, upstream_url, key="sk-wrong-secret"), 600)
    with pytest.raises(UpstreamError) as caught:
        await catalog.models("p")
    assert caught.value.http_status == 502
    assert "401" in caught.value.message and "Incorrect API key" in caught.value.message
    assert "sk-wrong-secret" not in caught.value.message
    assert catalog.models_of("p") == ()


async def test_unreachable_upstream_is_an_upstream_error(upstream_client: Upstream) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    catalog = ModelCatalog(fetcher(upstream_client, f"http://127.0.0.1:{closed_port}/v1"), 600)
    with pytest.raises(UpstreamError) as caught:
        await catalog.models("p")
    assert caught.value.code == "upstream_unreachable"


async def test_refresh_fetches_now_and_keeps_last_good_on_failure(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    catalog = ModelCatalog(fetcher(upstream_client, upstream_url), 600)
    await catalog.models("p")
    upstream.models = ["new-model"]
    refreshed = await catalog.refresh("p")
    assert (refreshed.models, refreshed.cached) == (("new-model",), False)
    assert upstream.calls == 2

    upstream.status = 503
    with pytest.raises(UpstreamError) as caught:
        await catalog.refresh("p")
    assert "overloaded" in caught.value.message
    kept = await catalog.models("p")
    assert (kept.models, kept.cached, kept.stale) == (("new-model",), True, False)


async def test_invalidate_forgets_and_drops_in_flight_results(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    catalog = ModelCatalog(fetcher(upstream_client, upstream_url), 600)
    await catalog.models("p")
    catalog.invalidate("p")
    assert catalog.models_of("p") == ()
    await catalog.models("p")
    assert upstream.calls == 2

    catalog.invalidate()
    upstream.delay = 0.2
    in_flight = asyncio.create_task(catalog.models("p"))
    await asyncio.sleep(0.05)
    catalog.invalidate("p")  # the provider changed while its old list was being fetched
    await in_flight
    assert catalog.models_of("p") == ()


async def test_paginated_lists_are_followed_to_the_end(
    upstream_client: Upstream, upstream: ModelsUpstream, upstream_url: str
) -> None:
    upstream.models = [f"m{i}" for i in range(5)]
    upstream.page_size = 2
    catalog = ModelCatalog(fetcher(upstream_client, upstream_url), 600)
    assert (await catalog.models("p")).models == ("m0", "m1", "m2", "m3", "m4")
    assert upstream.calls == 3


def test_merge_models_adds_static_and_aliases_and_applies_the_allow_list() -> None:
    provider = live_provider(
        "p",
        "http://x",
        static_models=("static-1",),
        aliases={"fast": "gpt-4o-mini"},
        allowed_models=frozenset({"static-1", "gpt-4o", "fast"}),
    )
    merged = merge_models(provider, ["gpt-4o", "gpt-4o-mini", "static-1"])
    assert merged == ["static-1", "gpt-4o", "fast"]
    open_provider = live_provider("q", "http://x", static_models=("s",))
    assert merge_models(open_provider, ["a", "s"]) == ["s", "a"]
