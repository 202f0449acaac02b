"""/api/v1/providers/{id}/models, /models/refresh, /health and /test over real HTTP.

Providers are created through the admin API and point at the fake upstreams;
the fakes record every request, so cache hits and misses are counted exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import API_KEY, Fault
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app
from tests.test_app import assert_openai_error

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
async def client(aiohttp_client: AppClient, make_settings: Callable[..., Settings]) -> Client:
    return await aiohttp_client(gateway_app(make_settings(**QUIET)), server_kwargs=SERVER_KWARGS)


async def add(client: Client, provider_id: str, base_url: str, **fields: Any) -> None:
    body = {"id": provider_id, "name": provider_id, "template": "openai", "base_url": base_url,
            "api_key": API_KEY, **fields}  # fmt: skip
    response = await client.post("/api/v1/providers", json=body)
    assert response.status == 201, await response.text()


def model_calls(fake: FakeOpenAI | FakeAnthropic) -> int:
    return sum(1 for r in fake.requests if r.path.endswith("/models"))


async def test_models_cached_merged_and_refreshed(client: Client, fake: FakeOpenAI) -> None:
    await add(client, "oa", fake.url, aliases={"fast": "model-a"})
    first = await client.get("/api/v1/providers/oa/models")
    assert first.status == 200
    body = await first.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["model-a", "model-b", "model-c", "fast"]
    assert {m["owned_by"] for m in body["data"]} == {"oa"}
    assert (body["cached"], body["stale"]) == (False, False)
    assert body["fetched_at"] > 0
    assert model_calls(fake) == 1

    second = await (await client.get("/api/v1/providers/oa/models")).json()
    assert (second["cached"], second["fetched_at"]) == (True, body["fetched_at"])
    assert model_calls(fake) == 1  # a hit: no upstream call

    fake.model_ids = ("model-a", "model-new")
    refreshed = await client.post("/api/v1/providers/oa/models/refresh")
    assert refreshed.status == 200
    assert [m["id"] for m in (await refreshed.json())["data"]] == ["model-a", "model-new", "fast"]
    assert model_calls(fake) == 2

    fake.fault = Fault(status=500)
    failed = await client.post("/api/v1/providers/oa/models/refresh")
    assert failed.status == 502
    assert_openai_error(await failed.json(), "upstream_models_failed")
    kept = await (await client.get("/api/v1/providers/oa/models")).json()
    assert [m["id"] for m in kept["data"]] == ["model-a", "model-new", "fast"]
    assert kept["cached"] is True

    # A change to the provider invalidates its list: the next read is a miss.
    fake.fault = Fault()
    changed = await client.patch("/api/v1/providers/oa", json={"priority": 3})
    assert changed.status == 200
    again = await (await client.get("/api/v1/providers/oa/models")).json()
    assert again["cached"] is False
    assert model_calls(fake) == 4


async def test_models_single_flight_and_pagination(client: Client) -> None:
    async with FakeAnthropic() as claude:
        body = {"id": "claude", "name": "claude", "template": "anthropic",
                "base_url": claude.url.removesuffix("/v1"), "api_key": API_KEY}  # fmt: skip
        assert (await client.post("/api/v1/providers", json=body)).status == 201
        claude.fault = Fault(first_byte_delay=0.2)
        answers = await asyncio.gather(
            *(client.get("/api/v1/providers/claude/models") for _ in range(10))
        )
        lists = [[m["id"] for m in (await a.json())["data"]] for a in answers]
        assert lists == [["claude-a", "claude-b", "claude-c"]] * 10
        assert model_calls(claude) == 2  # one fetch, two pages


async def test_unknown_provider_is_404(client: Client) -> None:
    for method, path in (
        ("GET", "/api/v1/providers/nope/models"),
        ("POST", "/api/v1/providers/nope/models/refresh"),
        ("GET", "/api/v1/providers/nope/health"),
        ("POST", "/api/v1/providers/nope/test"),
    ):
        response = await client.request(method, path)
        assert response.status == 404
        assert_openai_error(await response.json(), "not_found")


async def test_live_test_with_valid_and_wrong_key(client: Client, fake: FakeOpenAI) -> None:
    await add(client, "good", fake.url)
    await add(client, "bad", fake.url, api_key="sk-wrong")
    ok = await client.post("/api/v1/providers/good/test")
    assert ok.status == 200
    result = await ok.json()
    assert result["ok"] is True and result["status_code"] == 200
    assert result["models_found"] == 3 and result["error"] is None
    assert result["latency_ms"] >= 0

    completion = await client.post("/api/v1/providers/good/test", json={"model": "model-a"})
    result = await completion.json()
    assert (result["ok"], result["status_code"], result["models_found"]) == (True, 200, 3)
    sent = fake.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.json["max_tokens"] == 1

    wrong = await client.post("/api/v1/providers/bad/test")
    assert wrong.status == 200
    result = await wrong.json()
    assert result["ok"] is False and result["status_code"] == 401
    assert result["error"] == "Invalid API key"
    assert "sk-wrong" not in await wrong.text()


async def test_provider_health_and_summary(client: Client, fake: FakeOpenAI) -> None:
    await add(client, "good", fake.url)
    await add(client, "bad", fake.url, api_key="sk-wrong")
    unknown = await (await client.get("/api/v1/providers/good/health")).json()
    assert unknown == {
        "provider": "good",
        "status": "unknown",
        "latency_ms": None,
        "checked_at": None,
        "consecutive_failures": 0,
        "last_error": None,
        "circuit": "closed",
    }
    await client.post("/api/v1/providers/good/test")
    for _ in range(3):  # health.unhealthy_after
        await client.post("/api/v1/providers/bad/test")
    good = await (await client.get("/api/v1/providers/good/health")).json()
    assert good["status"] == "healthy" and good["checked_at"] > 0
    bad = await (await client.get("/api/v1/providers/bad/health")).json()
    assert (bad["status"], bad["consecutive_failures"]) == ("unhealthy", 3)
    assert bad["last_error"] == "Invalid API key"
    summary = (await (await client.get("/api/v1/health")).json())["providers"]
    assert (summary["total"], summary["healthy"], summary["unhealthy"]) == (2, 1, 1)


async def test_background_monitor_probes_providers(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fake: FakeOpenAI
) -> None:
    settings = make_settings(health={"interval_s": 0.05}, catalog={"prefetch": False})
    client = await aiohttp_client(gateway_app(settings), server_kwargs=SERVER_KWARGS)
    await add(client, "watched", fake.url)
    for _ in range(100):
        report = await (await client.get("/api/v1/providers/watched/health")).json()
        if report["status"] == "healthy":
            break
        await asyncio.sleep(0.02)
    assert report["status"] == "healthy"
    fake.fault = Fault(status=503)
    for _ in range(100):
        report = await (await client.get("/api/v1/providers/watched/health")).json()
        if report["status"] == "unhealthy":
            break
        await asyncio.sleep(0.02)
    assert report["status"] == "unhealthy"
    assert report["last_error"] == "Service overloaded"


async def test_gemini_models_are_paged_unprefixed_chat_and_embedding(
    client: Client,
) -> None:
    async with FakeGemini() as gemini:
        gemini.model_ids = ("gemini-a", "embedding-a", "gemini-b", "gemini-c", "gemini-d")
        body = {"id": "gem", "name": "gem", "template": "gemini",
                "base_url": gemini.url, "api_key": API_KEY}  # fmt: skip
        assert (await client.post("/api/v1/providers", json=body)).status == 201
        answer = await client.get("/api/v1/providers/gem/models")
        assert answer.status == 200
        ids = [m["id"] for m in (await answer.json())["data"]]
        assert ids == ["gemini-a", "embedding-a", "gemini-b", "gemini-c", "gemini-d"]
        listed = [r for r in gemini.requests if r.path.endswith("/models")]
        assert len(listed) == 3  # pages of two, followed by pageToken
        assert [r.query.get("pageToken") for r in listed] == [None, "2", "4"]
        assert all(API_KEY not in str(r.query) for r in listed)


async def test_ttl_and_stale_on_error_through_the_route(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fake: FakeOpenAI
) -> None:
    settings = make_settings(catalog={"ttl_s": 0.2, "prefetch": False}, health={"enabled": False})
    client = await aiohttp_client(gateway_app(settings), server_kwargs=SERVER_KWARGS)
    fake.fault = Fault(status=500)
    await add(client, "oa", fake.url)
    cold = await client.get("/api/v1/providers/oa/models")
    assert cold.status == 502  # nothing good to fall back on yet
    assert_openai_error(await cold.json(), "upstream_models_failed")

    fake.fault = Fault()
    fresh = await (await client.get("/api/v1/providers/oa/models")).json()
    assert (fresh["cached"], fresh["stale"]) == (False, False)
    assert model_calls(fake) == 2
    await asyncio.sleep(0.25)  # past the TTL
    fake.fault = Fault(status=500)
    stale = await client.get("/api/v1/providers/oa/models")
    assert stale.status == 200
    body = await stale.json()
    assert (body["cached"], body["stale"]) == (True, True)
    assert body["fetched_at"] == fresh["fetched_at"]
    assert [m["id"] for m in body["data"]] == ["model-a", "model-b", "model-c"]
    assert model_calls(fake) == 3


async def test_unsaved_provider_and_unsaved_changes_are_tested_and_stored_nowhere(
    client: Client, fake: FakeOpenAI
) -> None:
    draft = {"name": "Draft", "template": "openai", "base_url": fake.url, "api_key": API_KEY}
    answer = await client.post("/api/v1/providers/test", json={"provider": draft})
    assert answer.status == 200
    result = await answer.json()
    assert (result["ok"], result["models_found"]) == (True, 3)
    assert (await (await client.get("/api/v1/providers")).json())["data"] == []
    wrong = await client.post(
        "/api/v1/providers/test", json={"provider": {**draft, "api_key": "sk-wrong"}}
    )
    result = await wrong.json()
    assert (result["ok"], result["status_code"], result["error"]) == (
        False,
        401,
        "Invalid API key",
    )
    # A form's field errors come back as they would on saving, param naming the field.
    invalid = await client.post(
        "/api/v1/providers/test", json={"provider": {**draft, "base_url": "ftp://x"}}
    )
    assert invalid.status == 400
    assert (await invalid.json())["error"]["param"] == "base_url"
    missing = await client.post("/api/v1/providers/test", json={})
    assert (await missing.json())["error"]["param"] == "provider"

    # Unsaved changes to a stored provider: its stored key is used unless one is given,
    # and its recorded health is left alone.
    await add(client, "kept", fake.url)
    changed = await client.post(
        "/api/v1/providers/kept/test", json={"changes": {"name": "Renamed"}}
    )
    assert (await changed.json())["ok"] is True
    rekeyed = await client.post(
        "/api/v1/providers/kept/test", json={"changes": {"api_key": "sk-wrong"}}
    )
    assert (await rekeyed.json())["status_code"] == 401
    health = await (await client.get("/api/v1/providers/kept/health")).json()
    assert health["status"] == "unknown"
    stored = await (await client.get("/api/v1/providers/kept")).json()
    assert stored["name"] == "kept"
    for text in (await answer.text(), await rekeyed.text()):
        assert API_KEY not in text and "sk-wrong" not in text
