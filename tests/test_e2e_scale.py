"""End to end: 3 gateway processes on one Redis behave as one gateway (issue 7).

Real subprocesses (``python -m gateway serve``, tests/processes.py) share one real
redis-server, one GATEWAY_SECRET_KEY and one admin key; chat goes to a fake OpenAI
upstream (tests/fakes/openai_upstream.py).

What it shows: a provider created through the first instance is served by the other
two; a gateway key created on one works on all; limits are global (limit + 5 requests
spread round-robin give exactly ``limit`` successes); Redis stopped mid-traffic -> chat
still served, admin writes 503, health degraded; Redis restarted -> health ok, writes
work, and no provider or key is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet

from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.redis_server import RedisServer
from tests.processes import GatewayProcess, gateway_process

ADMIN_KEY = "admin-e2e-scale-key-0123456789abcdef"
CHAT_RPM = 6
REDIS_TIMEOUT_S = 0.5
MODEL = "model-a"


@pytest.fixture
def gateways(tmp_path: Path, redis_url: str) -> Iterator[list[str]]:
    """Base URLs of three gateway processes sharing one Redis and one master key."""
    env = {
        "GATEWAY_ENV": "test",
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_SECRET_KEY": Fernet.generate_key().decode(),
        "GATEWAY_STORAGE__BACKEND": "redis",
        "GATEWAY_STORAGE__REDIS_URL": redis_url,
        "GATEWAY_STORAGE__REDIS_TIMEOUT_S": str(REDIS_TIMEOUT_S),
        "GATEWAY_RATE_LIMIT__CHAT_RPM": str(CHAT_RPM),
        "GATEWAY_SECURITY__ALLOW_PRIVATE_UPSTREAMS": "true",
        "GATEWAY_HEALTH__ENABLED": "false",
    }
    with ExitStack() as stack:
        processes: list[GatewayProcess] = []
        for n in range(3):
            folder = tmp_path / f"instance-{n}"  # nothing shared but Redis
            folder.mkdir()
            processes.append(
                stack.enter_context(
                    gateway_process(
                        "serve", "--host", "127.0.0.1", "--port", "0", cwd=folder, env=env
                    )
                )
            )
        yield [f"http://127.0.0.1:{process.port()}" for process in processes]


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


def chat_body(text: str = "hello") -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}]}


async def wait_until(check: Any, within_s: float, message: str) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(message)
        await asyncio.sleep(0.05)


async def test_three_instances_behave_as_one(
    gateways: list[str], redis_server: RedisServer
) -> None:
    first, second, third = gateways
    async with FakeOpenAI() as upstream, aiohttp.ClientSession() as http:
        # A provider created through the first instance ...
        created = await http.post(
            f"{first}/api/v1/providers",
            json={
                "name": "fake",
                "template": "openai",
                "base_url": upstream.url,
                "api_key": upstream.api_key,
                "models": [MODEL],
            },
            headers=admin(),
        )
        assert created.status == 201, await created.text()

        # ... is served by the other two within a second.
        async def served_everywhere() -> bool:
            for base in (second, third):
                response = await http.get(f"{base}/api/v1/providers/fake", headers=admin())
                if response.status != 200:
                    return False
            return True

        await wait_until(served_everywhere, 1.0, "provider not visible on every instance in 1 s")
        assert (
            "api_key"
            not in await (await http.get(f"{third}/api/v1/providers/fake", headers=admin())).json()
        )

        # A chat key created on one instance works on all of them.
        made = await http.post(
            f"{second}/api/v1/keys", json={"name": "e2e", "scopes": ["chat"]}, headers=admin()
        )
        assert made.status == 201, await made.text()
        chat_key = (await made.json())["key"]
        auth = {"Authorization": f"Bearer {chat_key}"}
        await asyncio.sleep(0.3)

        # Limits are global: CHAT_RPM + 5 requests round-robin -> exactly CHAT_RPM successes.
        statuses, remaining = [], []
        for n in range(CHAT_RPM + 5):
            response = await http.post(
                f"{gateways[n % 3]}/v1/chat/completions", json=chat_body(), headers=auth
            )
            statuses.append(response.status)
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
            await response.read()
        assert statuses == [200] * CHAT_RPM + [429] * 5
        assert remaining[:CHAT_RPM] == list(range(CHAT_RPM - 1, -1, -1))

        # Redis stopped mid-traffic: chat still served (snapshot + per-instance limits) ...
        late_provider = {
            "name": "late",
            "template": "openai",
            "base_url": upstream.url,
            "api_key": upstream.api_key,  # the openai template requires one (else 400)
        }
        redis_server.stop(persist=True)
        admin_chat = await http.post(
            f"{third}/v1/chat/completions", json=chat_body("during outage"), headers=admin()
        )
        assert admin_chat.status == 200, await admin_chat.text()
        # A client key's chat goes through the (now unreachable) shared limiter: it falls back
        # to per-instance counting (fail_open) within the Redis timeout instead of hanging.
        started = time.monotonic()
        limited_chat = await http.post(
            f"{second}/v1/chat/completions", json=chat_body("limited"), headers=auth
        )
        assert limited_chat.status == 200, await limited_chat.text()
        assert time.monotonic() - started < REDIS_TIMEOUT_S + 1
        started = time.monotonic()
        refused = await http.post(
            f"{first}/api/v1/providers",
            json=late_provider,
            headers=admin(),
        )
        assert time.monotonic() - started < REDIS_TIMEOUT_S * 2 + 1
        assert refused.status == 503
        assert (await refused.json())["error"]["code"] == "storage_unavailable"

        # ... and health says degraded, and why.
        async def all_degraded() -> bool:
            for base in gateways:
                body = await (await http.get(f"{base}/api/v1/health")).json()
                if body["status"] != "degraded":
                    return False
                assert "redis" in body["storage"]["error"]
            return True

        await wait_until(all_degraded, 3.0, "health did not report degraded")

        # Redis restarted: health ok again, writes work, nothing lost.
        redis_server.start()

        async def all_ok() -> bool:
            for base in gateways:
                body = await (await http.get(f"{base}/api/v1/health")).json()
                if body["status"] != "ok":
                    return False
            return True

        await wait_until(all_ok, 10.0, "health did not return to ok after Redis came back")
        again = await http.post(
            f"{second}/api/v1/providers",
            json=late_provider,
            headers=admin(),
        )
        assert again.status == 201, await again.text()

        async def nothing_lost() -> bool:
            for base in gateways:
                listing = await (await http.get(f"{base}/api/v1/providers", headers=admin())).json()
                if {p["id"] for p in listing["data"]} != {"fake", "late"}:
                    return False
                keys = await (await http.get(f"{base}/api/v1/keys", headers=admin())).json()
                if [k["name"] for k in keys["data"]] != ["e2e"]:
                    return False
            return True

        await wait_until(nothing_lost, 1.0, "a provider or key was lost across the restart")
