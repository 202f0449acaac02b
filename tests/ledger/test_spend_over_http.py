"""Spend over HTTP: every adapter, streamed or not, priced exactly from the upstream's counts.

A real gateway (providers.d files, tests/providers_d.py) in front of the fake
OpenAI, Anthropic and Gemini upstreams; usage read back from /api/v1/usage,
/api/v1/usage/logs, /api/v1/keys and /metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import API_KEY, Reply
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.ledger.helpers import (
    ADMIN,
    ADMIN_KEY,
    MODEL_OF,
    Client,
    assert_documented,
    chat,
    eventually,
    expected_cost,
    providers,
)
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app

Fakes = tuple[FakeOpenAI, FakeAnthropic, FakeGemini]
CHAT = "/v1/chat/completions"
COUNTS = {"oa": (1234, 567), "an": (2001, 333), "ge": (999, 4321)}
"""Prompt and completion tokens each fake reports."""
DETAILS = {"oa": (200, 100), "an": (1000, 0), "ge": (99, 321)}
"""Of those, cached prompt and reasoning tokens (Anthropic reports no reasoning count)."""


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with FakeOpenAI() as oa, FakeAnthropic() as an, FakeGemini() as ge:
        for fake, provider_id in zip((oa, an, ge), COUNTS, strict=True):
            prompt, completion = COUNTS[provider_id]
            cached, reasoning = DETAILS[provider_id]
            fake.reply = Reply(
                text="Counted answer.",
                prompt_tokens=prompt,
                completion_tokens=completion,
                cached_tokens=cached,
                reasoning_tokens=reasoning,
            )
        yield oa, an, ge  # type: ignore[misc]


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fakes: Fakes
) -> Client:
    settings = make_settings(admin_key=ADMIN_KEY, **QUIET)
    extra = [
        {"provider_id": "unpriced", "base_url": fakes[0].url, "api_key": API_KEY},
        {
            "provider_id": "own",
            "base_url": fakes[0].url,
            "api_key": API_KEY,
            "pricing": {"gpt-4o-mini": {"input": 1.0, "output": 2.0}},
        },
    ]
    app = gateway_app(settings, *providers(*fakes), *extra)
    return await aiohttp_client(app, server_kwargs=SERVER_KWARGS)


async def test_spend_adds_up_exactly_for_every_adapter_streamed_or_not(gateway: Client) -> None:
    for provider_id, model in MODEL_OF.items():
        await chat(gateway, f"{provider_id}/{model}")
        await chat(gateway, f"{provider_id}/{model}", stream=True)

    response = await gateway.get("/api/v1/usage?group_by=provider,model", headers=ADMIN)
    assert response.status == 200
    usage = await response.json()
    rows = {row["provider"]: row for row in usage["data"]}
    assert set(rows) == set(MODEL_OF)
    total = 0.0
    for provider_id, model in MODEL_OF.items():
        prompt, completion = COUNTS[provider_id]
        cached, reasoning = DETAILS[provider_id]
        row = rows[provider_id]
        assert row["model"] == model
        assert (row["requests"], row["errors"], row["unpriced_requests"]) == (2, 0, 0)
        assert (row["prompt_tokens"], row["completion_tokens"]) == (2 * prompt, 2 * completion)
        assert (row["cached_tokens"], row["reasoning_tokens"]) == (2 * cached, 2 * reasoning)
        cost = expected_cost(model, 2 * prompt, 2 * completion, 2 * cached)
        assert row["cost_usd"] == cost
        total += cost
    assert usage["totals"]["requests"] == 6
    await assert_documented(gateway, "/api/v1/usage", "get", usage)
    assert usage["totals"]["cost_usd"] == pytest.approx(total, rel=1e-12)

    logs = await (await gateway.get("/api/v1/usage/logs", headers=ADMIN)).json()
    entries = logs["data"]
    assert len(entries) == 6 and logs["next_before"] is None
    await assert_documented(gateway, "/api/v1/usage/logs", "get", logs)
    for entry in entries:  # newest first: (stream, plain) per provider, in reverse order
        prompt, completion = COUNTS[entry["provider"]]
        cached, reasoning = DETAILS[entry["provider"]]
        assert entry["key_id"] == "admin"
        assert entry["route"] == "/v1/chat/completions"
        assert (entry["status"], entry["attempts"]) == (200, 1)
        assert (entry["prompt_tokens"], entry["completion_tokens"]) == (prompt, completion)
        assert (entry["cached_tokens"], entry["reasoning_tokens"]) == (cached, reasoning)
        assert entry["cost_usd"] == expected_cost(entry["model"], prompt, completion, cached)
        assert entry["latency_ms"] > 0
        assert (entry["ttft_ms"] is not None) == entry["streamed"]
    assert [e["streamed"] for e in entries] == [True, False] * 3
    assert "content" not in str(entries) and "Counted answer" not in str(entries)

    # Pages: limit and before walk the same entries.
    first = await (await gateway.get("/api/v1/usage/logs?limit=4", headers=ADMIN)).json()
    assert [e["id"] for e in first["data"]] == [e["id"] for e in entries[:4]]
    older = await (
        await gateway.get(f"/api/v1/usage/logs?before={first['next_before']}", headers=ADMIN)
    ).json()
    assert [e["id"] for e in older["data"]] == [e["id"] for e in entries[4:]]

    metrics = await (await gateway.get("/metrics")).text()
    assert 'gateway_cost_usd_total{model="gpt-4o-mini",provider="oa"}' in metrics


async def test_unknown_price_is_null_and_a_provider_price_beats_the_template(
    gateway: Client,
) -> None:
    await chat(gateway, "unpriced/mystery-model")
    await chat(gateway, "own/gpt-4o-mini")
    rows = (await (await gateway.get("/api/v1/usage?group_by=provider", headers=ADMIN)).json())[
        "data"
    ]
    by_provider = {row["provider"]: row for row in rows}
    unpriced = by_provider["unpriced"]
    assert unpriced["cost_usd"] is None and unpriced["unpriced_requests"] == 1
    assert (unpriced["prompt_tokens"], unpriced["completion_tokens"]) == COUNTS["oa"]
    prompt, completion = COUNTS["oa"]
    assert by_provider["own"]["cost_usd"] == (prompt * 1 + completion * 2) / 1_000_000
    log = (await (await gateway.get("/api/v1/usage/logs?limit=2", headers=ADMIN)).json())["data"]
    assert [e["cost_usd"] is None for e in log] == [False, True]


async def test_failures_count_as_errors_and_a_cancelled_stream_pays_for_what_it_used(
    gateway: Client, fakes: Fakes
) -> None:
    oa, an, _ = fakes
    oa.fault.status = 400
    refused = await gateway.post(
        "/v1/chat/completions",
        json={"model": "oa/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
        headers=ADMIN,
    )
    assert refused.status == 400
    invalid = await gateway.post("/v1/chat/completions", json={"model": "x"}, headers=ADMIN)
    assert invalid.status == 400

    an.fault.chunk_delay = 0.2  # the answer is slow: the client leaves after the first chunk
    body = {"model": "an/claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}],
            "stream": True}  # fmt: skip
    async with gateway.session.post(gateway.make_url("/v1/chat/completions"), json=body,
                                    headers=ADMIN) as response:  # fmt: skip
        assert response.status == 200
        await response.content.readany()
    await asyncio.wait_for(an.disconnected.wait(), 2)

    async def logged() -> bool:
        entries = (await (await gateway.get("/api/v1/usage/logs", headers=ADMIN)).json())["data"]
        return len(entries) == 3

    await eventually(logged)
    entries: list[dict[str, Any]] = (
        await (await gateway.get("/api/v1/usage/logs", headers=ADMIN)).json()
    )["data"]
    cancelled, invalid_entry, upstream_400 = entries
    # Anthropic counts the prompt in message_start: that much was used, and is charged.
    prompt = COUNTS["an"][0]
    assert cancelled["streamed"] and cancelled["prompt_tokens"] == prompt
    assert cancelled["status"] == 499  # nginx's "client closed request"
    cached = DETAILS["an"][0]
    assert cancelled["cached_tokens"] == cached
    assert cancelled["cost_usd"] == expected_cost(
        "claude-sonnet-4-5", prompt, cancelled["completion_tokens"], cached
    )
    assert invalid_entry["status"] == 400 and invalid_entry["provider"] is None
    assert upstream_400["status"] == 400 and upstream_400["provider"] == "oa"
    assert upstream_400["attempts"] == 1 and upstream_400["cost_usd"] == 0.0
    errors = await (await gateway.get("/api/v1/usage/logs?status=error", headers=ADMIN)).json()
    assert len(errors["data"]) == 3
    only_400 = await (await gateway.get("/api/v1/usage/logs?status=400", headers=ADMIN)).json()
    assert [e["id"] for e in only_400["data"]] == [invalid_entry["id"], upstream_400["id"]]
    totals = (await (await gateway.get("/api/v1/usage", headers=ADMIN)).json())["totals"]
    assert (totals["requests"], totals["errors"]) == (3, 3)


async def test_a_price_set_over_the_api_applies_from_then_on(gateway: Client, fakes: Fakes) -> None:
    created = await gateway.post(
        "/api/v1/providers",
        json={
            "id": "api",
            "name": "api",
            "template": "openai",
            "base_url": fakes[0].url,
            "api_key": API_KEY,
            "pricing": {"house-*": {"input": 1.0, "output": 1.0}},
        },
        headers=ADMIN,
    )
    assert created.status == 201, await created.text()
    await chat(gateway, "api/house-model")
    changed = await gateway.patch(
        "/api/v1/providers/api",
        json={"pricing": {"house-model": {"input": 2.0, "output": 2.0}}},
        headers=ADMIN,
    )
    assert changed.status == 200, await changed.text()
    await chat(gateway, "api/house-model")
    log = (await (await gateway.get("/api/v1/usage/logs", headers=ADMIN)).json())["data"]
    tokens = sum(COUNTS["oa"])
    assert [e["cost_usd"] for e in log] == [2 * tokens / 1e6, tokens / 1e6]


async def test_embeddings_and_the_messages_api_are_metered_too(gateway: Client) -> None:
    embedded = await gateway.post(
        "/v1/embeddings",
        json={"model": "oa/text-embedding-3-small", "input": ["a", "b"]},
        headers=ADMIN,
    )
    assert embedded.status == 200, await embedded.text()
    body = {"model": "an/claude-sonnet-4-5", "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    plain = await gateway.post("/v1/messages", json=body, headers=ADMIN)
    assert plain.status == 200, await plain.text()
    streamed = await gateway.post("/v1/messages", json={**body, "stream": True}, headers=ADMIN)
    assert streamed.status == 200
    await streamed.read()

    log = (await (await gateway.get("/api/v1/usage/logs", headers=ADMIN)).json())["data"]
    messages_stream, messages_plain, embeddings = log
    assert embeddings["route"] == "/v1/embeddings" and embeddings["prompt_tokens"] == 3
    assert embeddings["cost_usd"] == 3 * 0.02 / 1_000_000
    prompt, completion = COUNTS["an"]
    for entry in (messages_plain, messages_stream):
        assert entry["route"] == "/v1/messages" and entry["provider"] == "an"
        assert (entry["prompt_tokens"], entry["completion_tokens"]) == (prompt, completion)
        assert entry["cost_usd"] == expected_cost(
            "claude-sonnet-4-5", prompt, completion, DETAILS["an"][0]
        )
    assert (messages_plain["streamed"], messages_stream["streamed"]) == (False, True)


async def test_a_scrape_right_after_a_request_shows_its_cost(gateway: Client) -> None:
    """Entries are counted in batches: a scrape counts what is waiting first."""
    await chat(gateway, "oa/gpt-4o-mini")
    metrics = await (await gateway.get("/metrics")).text()
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith('gateway_cost_usd_total{model="gpt-4o-mini",provider="oa"}')
    )
    prompt, completion = COUNTS["oa"]
    cached, _reasoning = DETAILS["oa"]
    assert float(line.split()[-1]) == pytest.approx(
        expected_cost("gpt-4o-mini", prompt, completion, cached), rel=1e-9
    )


async def test_cache_writes_and_long_prompts_are_charged_at_their_own_prices(
    gateway: Client, fakes: Fakes
) -> None:
    """Anthropic's cache writes, through chat and the Messages API, streamed or not; past
    200k prompt tokens every token at the long-prompt price."""
    _oa, anthropic, gemini = fakes
    anthropic.reply = Reply(
        text="Counted answer.", prompt_tokens=3001, completion_tokens=333, cached_tokens=1000,
        cache_write_tokens=800,
    )  # fmt: skip
    await chat(gateway, "an/claude-sonnet-4-5")
    await chat(gateway, "an/claude-sonnet-4-5", stream=True)
    body = {"model": "an/claude-sonnet-4-5", "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    for stream in (False, True):
        answer = await gateway.post("/v1/messages", json={**body, "stream": stream}, headers=ADMIN)
        assert answer.status == 200, await answer.text()
        await answer.read()
    for prompt in (200_000, 200_001):  # at the line: the usual price; past it: the long one
        gemini.reply = Reply(text="Counted answer.", prompt_tokens=prompt, completion_tokens=1000)
        await chat(gateway, "ge/gemini-2.5-pro")
    anthropic.reply = Reply(text="Counted answer.", prompt_tokens=250_000, completion_tokens=10,
                            cached_tokens=50_000, cache_write_tokens=1000)  # fmt: skip
    await chat(gateway, "an/claude-sonnet-4-5")

    log = (await (await gateway.get("/api/v1/usage/logs", headers=ADMIN)).json())["data"]
    long_claude, gemini_long, gemini_at_line, *cached_writes = log
    assert len(cached_writes) == 4
    for entry in cached_writes:
        assert (entry["prompt_tokens"], entry["cached_tokens"]) == (3001, 1000)
        assert entry["cost_usd"] == expected_cost("claude-sonnet-4-5", 3001, 333, 1000, 800)
    assert [e["route"] for e in cached_writes] == ["/v1/messages"] * 2 + [CHAT] * 2
    assert gemini_at_line["cost_usd"] == expected_cost("gemini-2.5-pro", 200_000, 1000)
    assert gemini_long["cost_usd"] == expected_cost("gemini-2.5-pro", 200_001, 1000)
    assert gemini_long["cost_usd"] > 1.9 * gemini_at_line["cost_usd"]
    assert long_claude["cost_usd"] == expected_cost("claude-sonnet-4-5", 250_000, 10, 50_000, 1000)
