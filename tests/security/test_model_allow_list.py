"""A key's model list holds for the provider that actually serves the request.

X-Gateway-Provider may pick among the providers the list allows; it cannot move
an allowed model name to another provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.chat_upstream import FakeOpenAI, start_fake
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app

Client = TestClient[web.Request, web.Application]
ADMIN_KEY = "adm-allow-list-test-0123456789abcdef"


@pytest.fixture
async def upstreams() -> AsyncIterator[dict[str, FakeOpenAI]]:
    fakes = {"fake": await start_fake("fake"), "other": await start_fake("other")}
    yield fakes
    for fake in fakes.values():
        assert fake.server is not None
        await fake.server.close()


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: dict[str, FakeOpenAI],
) -> Client:
    settings = make_settings(admin_key=ADMIN_KEY, **QUIET)
    providers = [
        {"provider_id": pid, "base_url": fake.base_url, "serves": ("echo", "fake/echo")}
        for pid, fake in upstreams.items()
    ]
    return await aiohttp_client(gateway_app(settings, *providers), server_kwargs=SERVER_KWARGS)


async def key_for(client: Client, models: list[str]) -> dict[str, str]:
    response = await client.post(
        "/api/v1/keys",
        json={"name": "limited", "models": models},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status == 201, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['key']}"}


async def ask(client: Client, auth: dict[str, str], model: str, **headers: str) -> Any:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return await client.post("/v1/chat/completions", json=body, headers={**auth, **headers})


async def test_forced_provider_cannot_bypass_the_model_list(
    gateway: Client, upstreams: dict[str, FakeOpenAI]
) -> None:
    auth = await key_for(gateway, ["fake/echo"])
    served = await ask(gateway, auth, "fake/echo")
    assert served.status == 200 and served.headers["X-Gateway-Provider"] == "fake"
    refused = await ask(gateway, auth, "fake/echo", **{"X-Gateway-Provider": "other"})
    assert refused.status == 403, await refused.text()
    assert (await refused.json())["error"]["param"] == "model"
    assert upstreams["other"].requests == []  # nothing reached it
    allowed = await ask(gateway, auth, "echo", **{"X-Gateway-Provider": "fake"})
    assert allowed.status == 200
    # A bare name is routed to whichever provider lists it: only "fake" is allowed.
    for _ in range(3):
        bare = await ask(gateway, auth, "echo")
        assert bare.status == 200 and bare.headers["X-Gateway-Provider"] == "fake"


async def test_a_whole_provider_may_be_allowed(gateway: Client) -> None:
    auth = await key_for(gateway, ["other/*"])
    assert (await ask(gateway, auth, "other/echo")).status == 200
    forced = await ask(gateway, auth, "echo", **{"X-Gateway-Provider": "other"})
    assert forced.status == 200 and forced.headers["X-Gateway-Provider"] == "other"
    assert (await ask(gateway, auth, "fake/echo")).status == 403
    assert (await ask(gateway, auth, "echo", **{"X-Gateway-Provider": "fake"})).status == 403
