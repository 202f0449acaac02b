"""GET /metrics: values parsed with prometheus-client's parser, bounded labels, token, workers."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from gateway.app import create_app
from gateway.endpoints import Operation, add_route
from gateway.metrics import (
    MAX_UNLISTED_MODELS,
    METRICS,
    REQUEST_BUCKETS,
    Metrics,
    add_upstream_wait,
)
from gateway.settings import Settings
from tests.conftest import AppClient

Samples = list[Sample]


def parse(text: str) -> Samples:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The one sample called ``name`` whose labels include ``labels``."""
    found = [s for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) == 1, (name, labels, found)
    return found[0].value


async def scrape(client, headers: dict[str, str] | None = None) -> Samples:  # type: ignore[no-untyped-def]
    response = await client.get("/metrics", headers=headers or {})
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain")
    return parse(await response.text())


async def test_requests_counted_by_route_template_method_and_status(client) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        assert (await client.get("/api/v1/health")).status == 200
    assert (await client.delete("/api/v1/health")).status == 405
    assert (await client.get("/no/such/thing")).status == 404

    samples = await scrape(client)
    health = {"route": "/api/v1/health", "method": "GET", "status": "200"}
    assert value(samples, "gateway_http_requests_total", **health) == 3
    assert value(samples, "gateway_http_request_duration_seconds_count", **health) == 3
    assert value(samples, "gateway_http_request_duration_seconds_sum", **health) > 0
    # aiohttp answers 405 before routing picks a resource: still a bounded label.
    assert value(samples, "gateway_http_requests_total", route="<unmatched>", status="405") == 1
    assert value(samples, "gateway_http_requests_total", route="<unmatched>", status="404") == 1
    assert value(samples, "gateway_build_info") == 1


async def test_upstream_tokens_ttft_streams_and_provider_state(client) -> None:  # type: ignore[no-untyped-def]
    metrics = client.app[METRICS]
    metrics.register_known_models("openai", ["gpt-4o"])
    metrics.record_upstream("openai", "gpt-4o", "ok", 0.4)
    metrics.record_upstream("openai", "gpt-4o", "ok", 0.6)
    metrics.record_upstream("openai", "gpt-4o", "server_error", 0.1)
    metrics.record_tokens("openai", "gpt-4o", prompt=12, completion=30)
    metrics.record_tokens("openai", "gpt-4o", prompt=8, completion=0)
    metrics.observe_ttft("openai", "gpt-4o", 0.2)
    metrics.record_rate_limited("chat")
    metrics.set_provider_up("openai", True)
    metrics.set_circuit("openai", "open")
    metrics.record_cache("openai", "hit")
    metrics.record_cache("openai", "miss")
    metrics.record_cache("openai", "hit")

    with metrics.stream_active():
        during = await scrape(client)
    after = await scrape(client)

    assert value(during, "gateway_active_streams") == 1
    assert value(after, "gateway_active_streams") == 0
    ok = {"provider": "openai", "model": "gpt-4o", "outcome": "ok"}
    assert value(after, "gateway_upstream_requests_total", **ok) == 2
    assert value(after, "gateway_upstream_request_duration_seconds_sum", **ok) == 1.0
    assert value(after, "gateway_upstream_requests_total", outcome="server_error") == 1
    assert value(after, "gateway_tokens_total", model="gpt-4o", type="prompt") == 20
    assert value(after, "gateway_tokens_total", model="gpt-4o", type="completion") == 30
    assert value(after, "gateway_time_to_first_token_seconds_count", provider="openai") == 1
    assert value(after, "gateway_rate_limited_requests_total", group="chat") == 1
    assert value(after, "gateway_provider_up", provider="openai") == 1
    assert value(after, "gateway_provider_circuit_state", provider="openai") == 2
    assert value(after, "gateway_model_cache_lookups_total", result="hit") == 2
    assert value(after, "gateway_model_cache_lookups_total", result="miss") == 1

    metrics.forget_provider("openai")
    gone = await scrape(client)
    assert not [s for s in gone if s.name == "gateway_provider_up"]


async def test_overhead_is_total_minus_upstream_wait(
    aiohttp_client: AppClient, settings: Settings
) -> None:
    app = create_app(settings)

    async def slow_upstream(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)  # stands in for waiting on a provider
        add_upstream_wait(request, 0.3)
        return web.json_response({})

    op = Operation(summary="test", tag="test", responses={200: "ok"})
    add_route(app, "POST", "/api/v1/test/slow", slow_upstream, group="chat", operation=op)
    client = await aiohttp_client(app)
    assert (await client.post("/api/v1/test/slow")).status == 200
    samples = await scrape(client)
    assert value(samples, "gateway_overhead_seconds_count") == 1
    overhead = value(samples, "gateway_overhead_seconds_sum")
    assert 0 <= overhead < 0.1  # the 0.3 s upstream wait is not the gateway's cost
    assert value(samples, "gateway_http_request_duration_seconds_sum", status="200") >= 0.3


async def test_a_scrape_right_after_a_request_counts_it(client) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get("/api/v1/health")).status == 200
    samples = await scrape(client)
    health = {"route": "/api/v1/health", "method": "GET", "status": "200"}
    assert value(samples, "gateway_http_requests_total", **health) == 1
    assert value(samples, "gateway_http_request_duration_seconds_bucket", le="+Inf", **health) == 1


async def test_a_flush_writes_what_this_loop_turn_observed(client) -> None:  # type: ignore[no-untyped-def]
    metrics = client.app[METRICS]
    metrics.record_upstream("openai", "gpt-4o", "ok", 0.2)
    metrics.record_tokens("openai", "gpt-4o", prompt=3, completion=4)
    metrics.flush()  # what the /metrics handler does before rendering, without a loop turn
    samples = parse(metrics.exposition().decode())
    assert value(samples, "gateway_upstream_requests_total", outcome="ok") == 1
    assert value(samples, "gateway_tokens_total", type="completion") == 4


def test_without_a_loop_observations_are_written_at_once(settings: Settings) -> None:
    metrics = Metrics(settings.metrics)
    metrics.observe_request("/api/v1/health", "GET", 200, 0.01)
    metrics.record_tokens("openai", "gpt-4o", prompt=5, completion=0)
    samples = parse(metrics.exposition().decode())
    assert value(samples, "gateway_http_requests_total", route="/api/v1/health") == 1
    assert value(samples, "gateway_tokens_total", type="prompt") == 5


async def test_observations_of_one_loop_turn_are_all_counted(client) -> None:  # type: ignore[no-untyped-def]
    """Many observations in one turn land as if each had been observed on its own."""
    responses = await asyncio.gather(*(client.get("/api/v1/health") for _ in range(5)))
    assert [response.status for response in responses] == [200] * 5
    metrics = client.app[METRICS]
    seconds = [0.005, 0.0049, 0.3, 0.25, 7.0, 500.0, 0.0]  # on, under and past bounds
    reference = Histogram("reference", "plain observe", buckets=REQUEST_BUCKETS, registry=None)
    for observed in seconds:  # all in one loop turn
        metrics.record_upstream("openai", "gpt-4o", "ok", observed)
        metrics.record_tokens("openai", "gpt-4o", prompt=2, completion=0)
        reference.observe(observed)

    samples = await scrape(client)
    health = {"route": "/api/v1/health", "method": "GET", "status": "200"}
    assert value(samples, "gateway_http_requests_total", **health) == 5
    assert value(samples, "gateway_http_request_duration_seconds_count", **health) == 5
    ok = {"provider": "openai", "model": "gpt-4o", "outcome": "ok"}
    assert value(samples, "gateway_upstream_requests_total", **ok) == len(seconds)
    assert value(samples, "gateway_tokens_total", type="prompt") == 2 * len(seconds)
    buckets = [
        (s.labels["le"], s.value)
        for s in samples
        if s.name == "gateway_upstream_request_duration_seconds_bucket"
    ]
    expected = parse(generate_latest(reference).decode())
    assert buckets == [(s.labels["le"], s.value) for s in expected if s.name.endswith("_bucket")]
    assert value(samples, "gateway_upstream_request_duration_seconds_sum", **ok) == sum(seconds)


async def test_label_values_stay_bounded(client) -> None:  # type: ignore[no-untyped-def]
    for i in range(1000):
        response = await client.request("GET", f"/bogus/{i}/x{i}")
        assert response.status == 404
    for method in ("PURGE", "PROPFIND", "MKCOL", "LOCK", "UNLOCK", "REPORT"):
        assert (await client.request(method, "/api/v1/health")).status == 405
    metrics = client.app[METRICS]
    metrics.register_known_models("p", ["real-model"])
    for i in range(1000):  # client-chosen names the upstream refused: never labels
        metrics.record_upstream("p", f"bogus-model-{i}", "client_error", 0.01)
    metrics.record_upstream("p", "real-model", "client_error", 0.01)
    for i in range(MAX_UNLISTED_MODELS + 10):  # unlisted names it served: the first few
        metrics.record_upstream("p", f"served-{i}", "ok", 0.01)
        metrics.record_tokens("p", f"served-{i}", 1, 1)

    samples = await scrape(client)
    routes = {s.labels["route"] for s in samples if s.name == "gateway_http_requests_total"}
    methods = {s.labels["method"] for s in samples if s.name == "gateway_http_requests_total"}
    assert routes == {"<unmatched>"}
    assert methods == {"GET", "OTHER"}
    models = {s.labels["model"] for s in samples if s.name == "gateway_upstream_requests_total"}
    assert models == {"other", "real-model"} | {f"served-{i}" for i in range(MAX_UNLISTED_MODELS)}
    assert not any(s.labels.get("model", "").startswith("bogus") for s in samples)
    other = {"model": "other", "outcome": "client_error"}
    assert value(samples, "gateway_upstream_requests_total", **other) == 1000
    assert len(samples) < 2000  # not one series per bogus path or model name


async def test_metrics_token_is_required_when_configured(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    client = await aiohttp_client(create_app(make_settings(metrics={"token": "m3trics-token"})))
    missing = await client.get("/metrics")
    assert missing.status == 401
    body = await missing.json()
    assert body["error"]["code"] == "invalid_api_key"
    assert "m3trics-token" not in await missing.text()
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    samples = await scrape(client, {"Authorization": "Bearer m3trics-token"})
    assert value(samples, "gateway_build_info") == 1


async def test_metrics_can_be_turned_off(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    client = await aiohttp_client(create_app(make_settings(metrics={"enabled": False})))
    assert (await client.get("/metrics")).status == 404


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_lines(log: Path, needle: str, count: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if log.is_file() and log.read_text().count(needle) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"never saw {count} x {needle!r}:\n{log.read_text()}")


def _start_workers(cwd: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROMETHEUS_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    env["GATEWAY_ENV"] = "test"
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--workers", "2", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


async def test_two_workers_add_up(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "gateway.log"
    process = _start_workers(tmp_path, port, log)
    try:
        await asyncio.to_thread(
            _wait_for_lines, log, " listening on http", 2, time.monotonic() + 30
        )
        requests = 40
        base = f"http://127.0.0.1:{port}"
        # A new connection per request, so SO_REUSEPORT spreads them over both workers.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(requests):
                async with session.get(f"{base}/api/v1/health") as response:
                    assert response.status == 200
            async with session.get(f"{base}/metrics") as response:
                assert response.status == 200
                samples = parse(await response.text())
        health = {"route": "/api/v1/health", "method": "GET", "status": "200"}
        assert value(samples, "gateway_http_requests_total", **health) == requests
        assert value(samples, "gateway_http_request_duration_seconds_count", **health) == requests
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
