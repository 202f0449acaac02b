"""Three gateway instances on one real redis-server keep one ledger.

Aggregates, the request log and budgets add up across instances: requests spread
round-robin are all counted on every instance, exactly; a budget spent through
two instances refuses on the third; counts made while Redis is down are written
once it is back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gateway.settings import Settings
from tests.conftest import TEST_SECRET_KEY, AppClient
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import Reply
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.redis_server import RedisServer
from tests.ledger.helpers import (
    ADMIN,
    ADMIN_KEY,
    Client,
    chat,
    eventually,
    expected_cost,
    providers,
)
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app

MODEL = "oa/gpt-4o-mini"
ONE_CALL = expected_cost("gpt-4o-mini", 100, 40)


@pytest.fixture
async def instances(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], redis_url: str
) -> AsyncIterator[list[Client]]:
    async with FakeOpenAI() as oa, FakeAnthropic() as an, FakeGemini() as ge:
        oa.reply = Reply(prompt_tokens=100, completion_tokens=40)
        settings = make_settings(
            admin_key=ADMIN_KEY,
            secret_key=TEST_SECRET_KEY,
            storage={"backend": "redis", "redis_url": redis_url},
            **QUIET,
        )
        clients = []
        for _ in range(3):
            app = gateway_app(settings, *providers(oa, an, ge))
            clients.append(await aiohttp_client(app, server_kwargs=SERVER_KWARGS))
        yield clients


async def usage_of(client: Client, query: str = "") -> Any:
    response = await client.get(f"/api/v1/usage{query}", headers=ADMIN)
    assert response.status == 200
    return await response.json()


async def test_aggregates_and_log_add_up_across_three_instances(instances: list[Client]) -> None:
    for n in range(9):
        await chat(instances[n % 3], MODEL, stream=n % 2 == 1)

    async def all_counted() -> bool:
        totals = [(await usage_of(client))["totals"]["requests"] for client in instances]
        return totals == [9, 9, 9]

    await eventually(all_counted)
    reports = [await usage_of(client, "?group_by=key,provider,model") for client in instances]
    assert reports[0] == reports[1] == reports[2]
    (row,) = reports[0]["data"]
    assert (row["key_id"], row["provider"], row["model"]) == ("admin", "oa", "gpt-4o-mini")
    assert (row["prompt_tokens"], row["completion_tokens"]) == (900, 360)
    assert row["cost_usd"] == expected_cost("gpt-4o-mini", 900, 360)

    first = await (await instances[1].get("/api/v1/usage/logs?limit=5", headers=ADMIN)).json()
    rest = await (
        await instances[2].get(
            f"/api/v1/usage/logs?limit=5&before={first['next_before']}", headers=ADMIN
        )
    ).json()
    entries = first["data"] + rest["data"]
    assert len(entries) == 9 and rest["next_before"] is None
    # In the order the instances' writes reached Redis (not necessarily the requests' order).
    assert sorted(e["streamed"] for e in entries) == [False] * 5 + [True] * 4
    assert len({e["request_id"] for e in entries}) == 9


async def test_a_budget_holds_across_instances(instances: list[Client]) -> None:
    a, b, c = instances
    made = await a.post(
        "/api/v1/keys",
        json={"name": "shared-budget", "budget_usd": ONE_CALL * 2.5, "budget_period": "day"},
        headers=ADMIN,
    )
    key_id, key = (await made.json())["id"], (await made.json())["key"]
    auth = {"Authorization": f"Bearer {key}"}

    async def known_everywhere() -> bool:
        for client in instances:
            if (await client.get("/api/v1/usage/me", headers=auth)).status != 200:
                return False
        return True

    await eventually(known_everywhere)
    for n, client in enumerate((a, b, c)):
        await chat(client, MODEL, headers=auth)  # the third crosses the line and completes

        async def seen_by_next(count: int = n + 1, nxt: Client = instances[(n + 1) % 3]) -> bool:
            me = await (await nxt.get("/api/v1/usage/me", headers=auth)).json()
            return bool(me["spend"]["requests"] == count)

        await eventually(seen_by_next)  # a write lands in Redis within milliseconds
    refused = await a.post(
        "/v1/chat/completions", json={"model": MODEL, "messages": []}, headers=auth
    )
    assert refused.status == 429
    assert (await refused.json())["error"]["code"] == "insufficient_quota"
    shown = await (await b.get(f"/api/v1/keys/{key_id}", headers=ADMIN)).json()
    assert shown["spend"]["cost_usd"] == pytest.approx(3 * ONE_CALL, rel=1e-12)
    assert shown["last_used_at"] is not None


async def test_counts_wait_out_a_redis_outage(
    instances: list[Client], redis_server: RedisServer
) -> None:
    client = instances[0]
    redis_server.stop()
    for _ in range(3):
        await chat(client, MODEL)  # chat goes on without Redis
    down = await client.get("/api/v1/usage", headers=ADMIN)
    assert down.status == 503 and (await down.json())["error"]["code"] == "storage_unavailable"
    me = await (await client.get("/api/v1/usage/me", headers=ADMIN)).json()
    assert me["spend"]["requests"] == 3  # this instance's own counts, not yet written
    redis_server.start()

    async def written() -> bool:
        response = await client.get("/api/v1/usage", headers=ADMIN)
        return response.status == 200 and (await response.json())["totals"]["requests"] == 3

    await eventually(written, within_s=8.0)
    logs = await (await instances[2].get("/api/v1/usage/logs", headers=ADMIN)).json()
    assert len(logs["data"]) == 3
