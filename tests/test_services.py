"""The assembled gateway end to end over real HTTP: every adapter, breaker, limits, metrics.

Providers come from providers.d files pointing at the fake upstreams in
tests/fakes/, so what runs is the product's own registry, router, adapters,
health, usage hooks and metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.health.shared import SHARED_PROBES
from gateway.settings import Settings
from tests.conftest import TEST_SECRET_KEY, AppClient
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import API_KEY, FakeUpstream, Fault, Reply
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app
from tests.test_app import assert_openai_error

Client = TestClient[web.Request, web.Application]
HELLO = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]
ADMIN_KEY = "gw-admin-" + "Q7" * 16
# (provider id, template, base URL suffix, model)
ADAPTER_CASES = [
    ("oa", "openai", "/v1", "model-a"),
    ("claude", "anthropic", "", "claude-a"),
    ("gem", "gemini", "/v1beta", "gemini-a"),
]


@pytest.fixture
async def upstreams() -> AsyncIterator[dict[str, FakeUpstream]]:
    fakes: dict[str, FakeUpstream] = {
        "openai": FakeOpenAI(),
        "anthropic": FakeAnthropic(),
        "gemini": FakeGemini(),
    }
    for fake in fakes.values():
        await fake.start()
    yield fakes
    for fake in fakes.values():
        await fake.close()


def providers(upstreams: dict[str, FakeUpstream], **fields: Any) -> list[dict[str, Any]]:
    return [
        {
            "provider_id": pid,
            "template": template,
            "base_url": f"http://127.0.0.1:{upstreams[template].port}{suffix}",
            "api_key": API_KEY,
            "serves": (model,),
            **fields,
        }
        for pid, template, suffix, model in ADAPTER_CASES
    ]


async def start(aiohttp_client: AppClient, settings: Settings, *entries: dict[str, Any]) -> Client:
    return await aiohttp_client(gateway_app(settings, *entries), server_kwargs=SERVER_KWARGS)


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: dict[str, FakeUpstream],
) -> Client:
    return await start(aiohttp_client, make_settings(**QUIET), *providers(upstreams))


def chunks(raw: bytes) -> list[dict[str, Any]]:
    blocks = [b for b in raw.split(b"\n\n") if b]
    assert blocks[-1] == b"data: [DONE]"
    return [orjson.loads(b.removeprefix(b"data: ")) for b in blocks[:-1]]


def metric_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize(("provider_id", "template", "suffix", "model"), ADAPTER_CASES)
async def test_chat_through_each_adapter(
    gateway: Client,
    upstreams: dict[str, FakeUpstream],
    provider_id: str,
    template: str,
    suffix: str,
    model: str,
) -> None:
    fake = upstreams[template]
    fake.reply = Reply(text="Sunny and mild.", prompt_tokens=11, completion_tokens=4)
    plain = await gateway.post("/v1/chat/completions", json={"model": model, "messages": HELLO})
    assert plain.status == 200, await plain.text()
    assert plain.headers["X-Gateway-Provider"] == provider_id
    body = await plain.json()
    assert body["object"] == "chat.completion" and body["model"] == model
    assert body["choices"][0]["message"]["content"] == "Sunny and mild."
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 11 and body["usage"]["completion_tokens"] == 4
    assert API_KEY not in (fake.requests[-1].path + str(fake.requests[-1].query))

    streamed = await gateway.post(
        "/v1/chat/completions",
        json={"model": model, "messages": HELLO, "stream": True,
              "stream_options": {"include_usage": True}},
    )  # fmt: skip
    assert streamed.status == 200
    assert streamed.headers["Content-Type"].startswith("text/event-stream")
    events = chunks(await streamed.read())
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == "Sunny and mild."
    usage = [e["usage"] for e in events if e.get("usage")]
    assert usage[-1]["prompt_tokens"] == 11 and usage[-1]["completion_tokens"] == 4


@pytest.mark.parametrize(("provider_id", "template", "suffix", "model"), ADAPTER_CASES)
async def test_tool_calls_through_each_adapter(
    gateway: Client,
    upstreams: dict[str, FakeUpstream],
    provider_id: str,
    template: str,
    suffix: str,
    model: str,
) -> None:
    upstreams[template].reply = Reply(
        tool_calls=[("get_weather", {"city": "Paris"}), ("get_time", {"tz": "UTC"})]
    )
    request = {"model": model, "messages": HELLO, "tools": TOOLS}
    plain = await gateway.post("/v1/chat/completions", json=request)
    assert plain.status == 200, await plain.text()
    choice = (await plain.json())["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    calls = choice["message"]["tool_calls"]
    assert [(c["function"]["name"], orjson.loads(c["function"]["arguments"])) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "UTC"}),
    ]
    assert all(c["id"] for c in calls)

    streamed = await gateway.post("/v1/chat/completions", json={**request, "stream": True})
    assembled: dict[int, dict[str, str]] = {}
    finish = None
    for event in chunks(await streamed.read()):
        for choice in event["choices"]:
            finish = choice.get("finish_reason") or finish
            for call in choice["delta"].get("tool_calls") or []:
                slot = assembled.setdefault(call["index"], {"name": "", "arguments": ""})
                slot["name"] += call.get("function", {}).get("name") or ""
                slot["arguments"] += call.get("function", {}).get("arguments") or ""
    assert finish == "tool_calls"
    assert {i: (c["name"], orjson.loads(c["arguments"])) for i, c in assembled.items()} == {
        0: ("get_weather", {"city": "Paris"}),
        1: ("get_time", {"tz": "UTC"}),
    }


async def test_every_provider_open_answers_503_without_calling_upstream(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    broken = FakeOpenAI()
    await broken.start()
    try:
        broken.fault = Fault(status=500)
        client = await start(
            aiohttp_client,
            make_settings(
                health={"enabled": False, "breaker_failures": 2, "breaker_cooldown_s": 60},
                catalog={"prefetch": False},
            ),
            {"provider_id": "only", "base_url": broken.url, "api_key": API_KEY,
             "serves": ("m",)},
        )  # fmt: skip
        for _ in range(2):
            response = await client.post(
                "/v1/chat/completions", json={"model": "m", "messages": HELLO}
            )
            assert response.status == 502
        response = await client.post("/v1/chat/completions", json={"model": "m", "messages": HELLO})
        assert response.status == 503
        error = (await response.json())["error"]
        assert error["code"] == "providers_unavailable" and "only" in error["message"]
        assert response.headers["Retry-After"] == "5"
        assert len(broken.requests) == 2  # the open circuit kept the third call away
    finally:
        await broken.close()


async def test_routing_goes_around_an_open_breaker(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: dict[str, FakeUpstream],
) -> None:
    broken, spare = FakeOpenAI(), upstreams["openai"]
    await broken.start()
    try:
        broken.fault = Fault(status=500)
        client = await start(
            aiohttp_client,
            make_settings(
                health={"enabled": False, "breaker_failures": 2, "breaker_cooldown_s": 0.3},
                catalog={"prefetch": False},
            ),
            {"provider_id": "first", "base_url": broken.url, "api_key": API_KEY,
             "serves": ("m",), "priority": 10},
            {"provider_id": "spare", "base_url": spare.url, "api_key": API_KEY,
             "serves": ("m",), "aliases": {"m": "model-a"}},
        )  # fmt: skip
        for _ in range(2):  # each falls back after the first provider's 500
            response = await client.post(
                "/v1/chat/completions", json={"model": "m", "messages": HELLO}
            )
            assert response.headers["X-Gateway-Provider"] == "spare"
        assert len(broken.requests) == 2
        health = await (await client.get("/api/v1/providers/first/health")).json()
        assert health["circuit"] == "open"
        # What opened it is on the report, apart from the (absent) probe failures.
        assert health["consecutive_failures"] == 0
        assert health["traffic"] == {
            "consecutive_failures": 2, "requests": 2, "failures": 2, "window_s": 60.0
        }  # fmt: skip

        response = await client.post("/v1/chat/completions", json={"model": "m", "messages": HELLO})
        assert response.status == 200
        assert response.headers["X-Gateway-Provider"] == "spare"
        assert len(broken.requests) == 2  # not even tried while open
        samples = metric_samples(await (await client.get("/metrics")).text())
        circuit = ("gateway_provider_circuit_state", frozenset({("provider", "first")}))
        assert samples[circuit] == 2.0

        # After the cool-down one trial call goes to it again; its success closes the circuit.
        broken.fault = Fault()
        await asyncio.sleep(0.35)
        health = await (await client.get("/api/v1/providers/first/health")).json()
        assert health["circuit"] == "half_open"
        response = await client.post("/v1/chat/completions", json={"model": "m", "messages": HELLO})
        assert response.headers["X-Gateway-Provider"] == "first"
        assert len(broken.requests) == 3
        health = await (await client.get("/api/v1/providers/first/health")).json()
        assert health["circuit"] == "closed"
        samples = metric_samples(await (await client.get("/metrics")).text())
        assert samples[circuit] == 0.0
    finally:
        await broken.close()


async def test_key_model_allow_list_is_403(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: dict[str, FakeUpstream],
) -> None:
    client = await start(
        aiohttp_client, make_settings(admin_key=ADMIN_KEY, **QUIET), *providers(upstreams)
    )
    created = await client.post(
        "/api/v1/keys",
        json={"name": "only-a", "scopes": ["chat"], "models": ["model-a"]},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert created.status == 201
    key = (await created.json())["key"]
    auth = {"Authorization": f"Bearer {key}"}
    refused = await client.post(
        "/v1/chat/completions", json={"model": "claude-a", "messages": HELLO}, headers=auth
    )
    assert refused.status == 403
    assert assert_openai_error(await refused.json(), "permission_denied")["param"] == "model"
    assert not upstreams["anthropic"].requests
    allowed = await client.post(
        "/v1/chat/completions", json={"model": "model-a", "messages": HELLO}, headers=auth
    )
    assert allowed.status == 200


async def test_tokens_per_minute_exceeded_is_429(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: dict[str, FakeUpstream],
) -> None:
    client = await start(
        aiohttp_client, make_settings(rate_limit={"tpm": 15}, **QUIET), *providers(upstreams)
    )
    upstreams["openai"].reply = Reply(prompt_tokens=12, completion_tokens=7)
    body = {"model": "model-a", "messages": HELLO}
    first = await client.post("/v1/chat/completions", json=body)
    assert first.status == 200
    second = await client.post("/v1/chat/completions", json=body)
    assert second.status == 429
    assert_openai_error(await second.json(), "rate_limit_exceeded")
    assert second.headers["Retry-After"] == "60"
    samples = metric_samples(await (await client.get("/metrics")).text())
    assert samples[("gateway_rate_limited_requests_total", frozenset({("group", "chat")}))] == 1
    assert (
        len([r for r in upstreams["openai"].requests if r.path.endswith("/chat/completions")]) == 1
    )


async def test_metrics_after_chat(gateway: Client, upstreams: dict[str, FakeUpstream]) -> None:
    upstreams["openai"].reply = Reply(prompt_tokens=12, completion_tokens=7)
    body = {"model": "model-a", "messages": HELLO}
    assert (await gateway.post("/v1/chat/completions", json=body)).status == 200
    streamed = await gateway.post("/v1/chat/completions", json={**body, "stream": True,
                                  "stream_options": {"include_usage": True}})  # fmt: skip
    await streamed.read()
    upstreams["anthropic"].fault = Fault(status=400)
    failed = await gateway.post(
        "/v1/chat/completions", json={"model": "claude-a", "messages": HELLO}
    )
    assert failed.status == 400

    samples = metric_samples(await (await gateway.get("/metrics")).text())

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    oa = {"provider": "oa", "model": "model-a"}
    assert value("gateway_tokens_total", **oa, type="prompt") == 24
    assert value("gateway_tokens_total", **oa, type="completion") == 14
    assert value("gateway_upstream_requests_total", **oa, outcome="ok") == 2
    assert value("gateway_upstream_request_duration_seconds_count", **oa, outcome="ok") == 2
    claude = {"provider": "claude", "model": "claude-a"}
    assert value("gateway_upstream_requests_total", **claude, outcome="client_error") == 1
    assert value("gateway_time_to_first_token_seconds_count", **oa) == 1
    assert value("gateway_active_streams") == 0
    assert value("gateway_overhead_seconds_count") >= 3


async def test_two_instances_share_the_model_catalog_through_redis(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: dict[str, FakeUpstream],
    redis_url: str,
) -> None:
    settings = make_settings(
        storage={"backend": "redis", "redis_url": redis_url}, secret_key=TEST_SECRET_KEY, **QUIET
    )
    first = await start(aiohttp_client, settings, *providers(upstreams))
    second = await aiohttp_client(gateway_app(settings), server_kwargs=SERVER_KWARGS)
    fake = upstreams["openai"]
    for client in (first, second):
        listed = await (await client.get("/api/v1/providers/oa/models")).json()
        assert [m["id"] for m in listed["data"]] == ["model-a", "model-b", "model-c"]
    assert sum(1 for r in fake.requests if r.path == "/v1/models") == 1
    fake.model_ids = ("model-z",)
    refreshed = await second.post("/api/v1/providers/oa/models/refresh")
    assert [m["id"] for m in (await refreshed.json())["data"]] == ["model-z", "model-a"]


async def test_a_provider_change_drops_the_shared_model_list(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: dict[str, FakeUpstream],
    redis_url: str,
) -> None:
    settings = make_settings(
        storage={"backend": "redis", "redis_url": redis_url},
        secret_key=TEST_SECRET_KEY,
        security={"allow_private_upstreams": True},
        **QUIET,
    )
    first = await aiohttp_client(gateway_app(settings), server_kwargs=SERVER_KWARGS)
    second = await aiohttp_client(gateway_app(settings), server_kwargs=SERVER_KWARGS)
    old, new = upstreams["openai"], FakeOpenAI()
    new.model_ids = ("model-z",)
    await new.start()
    try:
        created = await first.post(
            "/api/v1/providers",
            json={"id": "oa", "name": "oa", "template": "openai", "api_key": API_KEY,
                  "base_url": f"http://127.0.0.1:{old.port}/v1"},
        )  # fmt: skip
        assert created.status == 201, await created.text()

        async def model_ids(client: Client) -> list[str] | None:
            response = await client.get("/api/v1/providers/oa/models")
            if response.status != 200:
                return None
            return [m["id"] for m in (await response.json())["data"]]

        await wait_for(lambda: model_ids(second), ["model-a", "model-b", "model-c"])
        assert await model_ids(first) == ["model-a", "model-b", "model-c"]
        assert sum(1 for r in old.requests if r.path == "/v1/models") == 1  # shared

        # Moved to another upstream through the second instance: neither instance keeps
        # serving the old list from the shared copy (its TTL is far from over).
        moved = await second.patch(
            "/api/v1/providers/oa", json={"base_url": f"http://127.0.0.1:{new.port}/v1"}
        )
        assert moved.status == 200, await moved.text()
        await wait_for(lambda: model_ids(first), ["model-z"])
        assert await model_ids(second) == ["model-z"]
        assert sum(1 for r in new.requests if r.path == "/v1/models") == 1
    finally:
        await new.close()


async def test_two_instances_share_provider_health_through_redis(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: dict[str, FakeUpstream],
    redis_url: str,
) -> None:
    settings = make_settings(
        storage={"backend": "redis", "redis_url": redis_url},
        secret_key=TEST_SECRET_KEY,
        health={"enabled": True, "interval_s": 60.0},
        catalog={"prefetch": False},
    )
    fake = upstreams["openai"]
    entry = {**providers(upstreams)[0], "health_checks": True}
    first = await start(aiohttp_client, settings, entry)

    async def report(client: Client) -> dict[str, Any]:
        body: dict[str, Any] = await (await client.get("/api/v1/providers/oa/health")).json()
        return body

    # The first instance's monitor probes the upstream and publishes what it saw ...
    await wait_for(lambda: status_of(report(first)), "healthy")
    probed = await report(first)
    assert sum(1 for r in fake.requests if r.path == "/v1/models") == 1

    # ... and the second adopts that verdict instead of probing again.
    second = await aiohttp_client(gateway_app(settings), server_kwargs=SERVER_KWARGS)
    await wait_for(lambda: status_of(report(second)), "healthy")
    adopted = await report(second)
    assert adopted["checked_at"] == probed["checked_at"]
    assert adopted["latency_ms"] == probed["latency_ms"]
    assert sum(1 for r in fake.requests if r.path == "/v1/models") == 1

    # A failing live test on the second instance is shared too (read by the first's next round).
    fake.fault = Fault(status=401)
    tested = await (await second.post("/api/v1/providers/oa/test")).json()
    assert tested["ok"] is False
    record = await first.app[SHARED_PROBES].records.get("oa")
    assert record is not None
    assert record["consecutive_failures"] == 1 and record["last_error"]


async def status_of(report: Awaitable[dict[str, Any]]) -> str:
    return str((await report)["status"])


async def wait_for(
    read: Callable[[], Awaitable[Any]], expected: Any, within_s: float = 5.0
) -> None:
    """Poll ``read()`` until it returns ``expected`` (background work across instances)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while (seen := await read()) != expected:
        assert asyncio.get_running_loop().time() < deadline, seen
        await asyncio.sleep(0.05)


async def test_every_instrument_is_recorded_by_real_traffic(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: dict[str, FakeUpstream],
) -> None:
    """Streams, model cache, the gateway's own 429s and provider-up, through the real routes."""
    settings = make_settings(
        health={"interval_s": 0.05}, catalog={"prefetch": False}, rate_limit={"chat_rpm": 2}
    )
    client = await start(aiohttp_client, settings, *providers(upstreams))

    async def scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        return metric_samples(await (await client.get("/metrics")).text())

    def value(samples: dict[Any, float], name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    upstreams["openai"].reply = Reply(text="one two three four five six")
    upstreams["openai"].fault = Fault(chunk_delay=0.1)
    body = {"model": "model-a", "messages": HELLO}
    streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
    assert streamed.status == 200
    assert value(await scrape(), "gateway_active_streams") == 1
    await streamed.read()
    assert value(await scrape(), "gateway_active_streams") == 0

    upstreams["openai"].fault = Fault()
    for _ in range(2):
        assert (await client.get("/api/v1/providers/oa/models")).status == 200
    upstreams["openai"].fault = Fault(status=429)  # a provider's 429 is not the gateway's
    relayed = await client.post("/v1/chat/completions", json=body)
    assert relayed.status == 429
    chats = lambda: [r for r in upstreams["openai"].requests if "/chat/" in r.path]  # noqa: E731
    sent = len(chats())
    refused = await client.post("/v1/chat/completions", json=body)
    assert refused.status == 429 and refused.headers["X-RateLimit-Remaining"] == "0"
    assert len(chats()) == sent  # refused by the gateway itself

    samples = await scrape()
    assert value(samples, "gateway_rate_limited_requests_total", group="chat") == 1
    assert value(samples, "gateway_model_cache_lookups_total", provider="oa", result="miss") == 1
    assert value(samples, "gateway_model_cache_lookups_total", provider="oa", result="hit") == 1
    assert value(samples, "gateway_upstream_requests_total", provider="oa", model="model-a",
                 outcome="rate_limited") >= 1  # fmt: skip
    assert [k for k in samples if k[0] == "gateway_build_info"]
    for _ in range(100):
        samples = await scrape()
        if value(samples, "gateway_provider_up", provider="claude") == 1:
            break
        await asyncio.sleep(0.02)
    assert value(samples, "gateway_provider_up", provider="claude") == 1
    assert value(samples, "gateway_provider_circuit_state", provider="claude") == 0


async def test_passive_traffic_judges_a_provider_without_active_checks(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: dict[str, FakeUpstream],
) -> None:
    settings = make_settings(
        health={"interval_s": 0.05, "breaker_failures": 100}, catalog={"prefetch": False}
    )
    entries = [{**e, "health_checks": False} for e in providers(upstreams)]
    client = await start(aiohttp_client, settings, *entries)
    await asyncio.sleep(0.2)  # several monitor ticks: none may probe these providers
    assert not [r for r in upstreams["openai"].requests if r.path.endswith("/models")]
    report = await (await client.get("/api/v1/providers/oa/health")).json()
    assert report["status"] == "unknown"

    upstreams["openai"].fault = Fault(status=500)
    for _ in range(10):
        response = await client.post(
            "/v1/chat/completions", json={"model": "model-a", "messages": HELLO}
        )
        assert response.status == 502
    report = await (await client.get("/api/v1/providers/oa/health")).json()
    assert report["status"] == "unhealthy"
    assert report["circuit"] == "closed"
    summary = (await (await client.get("/api/v1/health")).json())["providers"]
    assert summary["unhealthy"] == 1
    assert not [r for r in upstreams["openai"].requests if r.path.endswith("/models")]
