"""Budgets over HTTP: the request that crosses the line completes, the next is 429
insufficient_quota until the period resets (an injected clock moves days and months);
key views and /usage/me show limits, spend and last use; the file ledger survives a restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from aiohttp import ClientResponse

from gateway.ledger.service import LEDGER
from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import Reply
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.ledger.helpers import (
    ADMIN,
    ADMIN_KEY,
    Client,
    assert_documented,
    chat,
    expected_cost,
    providers,
)
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app
from tests.test_app import assert_openai_error


async def assert_quota_error(response: ClientResponse) -> dict[str, object]:
    assert response.status == 429
    error = assert_openai_error(await response.json(), "insufficient_quota")
    assert error["type"] == "insufficient_quota"
    return error


MODEL = "oa/gpt-4o-mini"
ONE_CALL = expected_cost("gpt-4o-mini", 1000, 500)
DEC_31 = datetime(2026, 12, 31, 23, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeOpenAI, FakeAnthropic, FakeGemini]]:
    async with FakeOpenAI() as oa, FakeAnthropic() as an, FakeGemini() as ge:
        oa.reply = Reply(prompt_tokens=1000, completion_tokens=500)
        yield oa, an, ge  # type: ignore[misc]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(admin_key=ADMIN_KEY, **QUIET)


async def start(
    aiohttp_client: AppClient,
    settings: Settings,
    fakes: tuple[FakeOpenAI, FakeAnthropic, FakeGemini],
) -> tuple[Client, Clock]:
    client = await aiohttp_client(
        gateway_app(settings, *providers(*fakes)), server_kwargs=SERVER_KWARGS
    )
    clock = Clock(DEC_31)
    client.app[LEDGER].clock = clock
    return client, clock


async def new_key(client: Client, **limits: object) -> tuple[str, str]:
    made = await client.post("/api/v1/keys", json={"name": "budgeted", **limits}, headers=ADMIN)
    assert made.status == 201, await made.text()
    body = await made.json()
    return body["id"], body["key"]


async def test_budget_refuses_after_the_crossing_request_until_the_next_day(
    aiohttp_client: AppClient,
    settings: Settings,
    fakes: tuple[FakeOpenAI, FakeAnthropic, FakeGemini],
) -> None:
    client, clock = await start(aiohttp_client, settings, fakes)
    key_id, key = await new_key(client, budget_usd=ONE_CALL * 1.5, budget_period="day")
    auth = {"Authorization": f"Bearer {key}"}
    await chat(client, MODEL, headers=auth)  # under budget
    await chat(client, MODEL, headers=auth, stream=True)  # crosses it, and completes
    refused = await client.post(
        "/v1/chat/completions", json={"model": MODEL, "messages": []}, headers=auth
    )
    error = await assert_quota_error(refused)
    assert "daily budget" in error["message"] and "2027-01-01T00:00:00.000Z" in error["message"]
    assert int(refused.headers["Retry-After"]) == 3601

    shown = await (await client.get(f"/api/v1/keys/{key_id}", headers=ADMIN)).json()
    assert shown["budget_usd"] == ONE_CALL * 1.5 and shown["budget_period"] == "day"
    assert shown["spend"]["cost_usd"] == pytest.approx(2 * ONE_CALL, rel=1e-12)
    assert shown["spend"]["requests"] == 3  # the refused one is logged too, at no cost
    assert shown["spend"]["resets_at"] == "2027-01-01T00:00:00.000Z"
    assert shown["last_used_at"] == "2026-12-31T23:00:00.000Z"
    listed = await (await client.get("/api/v1/keys", headers=ADMIN)).json()
    assert [k["spend"]["tokens"] for k in listed["data"]] == [3000]
    me = await (await client.get("/api/v1/usage/me", headers=auth)).json()
    assert me["key_id"] == key_id and me["spend"] == shown["spend"]
    await assert_documented(client, "/api/v1/keys/{key_id}", "get", shown)
    await assert_documented(client, "/api/v1/keys", "get", listed)
    await assert_documented(client, "/api/v1/usage/me", "get", me)
    metrics = await (await client.get("/metrics")).text()
    assert 'gateway_budget_refused_requests_total{period="day"} 1.0' in metrics

    clock.now += 3600  # a new UTC day (and month, and year)
    await chat(client, MODEL, headers=auth)


async def test_token_limit_per_month_and_a_total_budget_that_never_resets(
    aiohttp_client: AppClient,
    settings: Settings,
    fakes: tuple[FakeOpenAI, FakeAnthropic, FakeGemini],
) -> None:
    client, clock = await start(aiohttp_client, settings, fakes)
    _, monthly = await new_key(client, max_tokens=1500, budget_period="month")
    key_id, total = await new_key(client, budget_usd=ONE_CALL / 2, budget_period="total")
    for key in (monthly, total):
        auth = {"Authorization": f"Bearer {key}"}
        await chat(client, MODEL, headers=auth)
        refused = await client.post(
            "/v1/chat/completions", json={"model": MODEL, "messages": []}, headers=auth
        )
        await assert_quota_error(refused)
    clock.now += 3600
    await chat(client, MODEL, headers={"Authorization": f"Bearer {monthly}"})
    refused = await client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": []},
        headers={"Authorization": f"Bearer {total}"},
    )
    assert "does not reset" in str((await assert_quota_error(refused))["message"])
    # An admin raises the budget: allowed again at once.
    raised = await client.patch(f"/api/v1/keys/{key_id}", json={"budget_usd": 1.0}, headers=ADMIN)
    assert raised.status == 200 and (await raised.json())["budget_usd"] == 1.0
    await assert_documented(client, "/api/v1/keys/{key_id}", "patch", await raised.json())
    await chat(client, MODEL, headers={"Authorization": f"Bearer {total}"})


async def test_file_ledger_survives_a_restart(
    aiohttp_client: AppClient,
    settings: Settings,
    fakes: tuple[FakeOpenAI, FakeAnthropic, FakeGemini],
) -> None:
    client, _ = await start(aiohttp_client, settings, fakes)
    key_id, key = await new_key(client, budget_usd=ONE_CALL * 2.5, budget_period="day")
    auth = {"Authorization": f"Bearer {key}"}
    for _ in range(3):
        await chat(client, MODEL, headers=auth)
    before = await (await client.get("/api/v1/usage", headers=ADMIN)).json()
    await client.close()  # shutdown writes what is pending

    again, _ = await start(aiohttp_client, settings, fakes)
    after = await (await again.get("/api/v1/usage", headers=ADMIN)).json()
    assert after == before and after["totals"]["requests"] == 3
    logs = await (await again.get(f"/api/v1/usage/logs?key_id={key_id}", headers=ADMIN)).json()
    assert len(logs["data"]) == 3
    refused = await again.post("/v1/chat/completions", json={"model": MODEL, "messages": []},
                               headers=auth)  # fmt: skip
    await assert_quota_error(refused)
