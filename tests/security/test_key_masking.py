"""Provider keys never leave the gateway, even when an upstream echoes them in an error.

Each fake upstream quotes the key and the credential header it received in its
error messages (answers and in-stream events). The keys have no recognisable
shape, so only masking by value can catch them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.security.redaction import mask_secrets, register_secret
from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import FakeUpstream, Fault
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app

Client = TestClient[web.Request, web.Application]
KEYS = {
    "oa": "zq7unshaped-openai-provider-secret",
    "an": "zq7unshaped-anthropic-provider-secret",
    "ge": "zq7unshaped-gemini-provider-secret",
}
STATUSES = (401, 403, 429, 500)


@pytest.fixture
async def fakes() -> AsyncIterator[dict[str, FakeUpstream]]:
    started = {
        "oa": await FakeOpenAI(api_key=KEYS["oa"]).start(),
        "an": await FakeAnthropic(api_key=KEYS["an"]).start(),
        "ge": await FakeGemini(api_key=KEYS["ge"]).start(),
    }
    yield started
    for fake in started.values():
        await fake.close()


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: dict[str, FakeUpstream],
) -> Client:
    settings = make_settings(**QUIET, routing={"max_attempts": 1})
    providers = [
        {"provider_id": "oa", "base_url": fakes["oa"].url, "api_key": KEYS["oa"]},
        {"provider_id": "an", "base_url": fakes["an"].url.removesuffix("/v1"),
         "template": "anthropic", "api_key": KEYS["an"]},
        {"provider_id": "ge", "base_url": fakes["ge"].url, "template": "gemini",
         "api_key": KEYS["ge"]},
    ]  # fmt: skip
    app = gateway_app(settings, *providers)
    return await aiohttp_client(app, server_kwargs=SERVER_KWARGS)


def assert_masked(text: str, provider_id: str) -> None:
    assert KEYS[provider_id] not in text, text
    assert "***" in text, text  # the upstream's message is relayed, with the key masked


def chat(provider_id: str, stream: bool) -> dict[str, Any]:
    return {
        "model": f"{provider_id}/model-a",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "stream": stream,
    }


@pytest.mark.parametrize("provider_id", sorted(KEYS))
async def test_chat_errors_never_echo_the_provider_key(
    gateway: Client,
    fakes: dict[str, FakeUpstream],
    provider_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fakes[provider_id]
    for status in STATUSES:
        fake.fault = Fault(status=status, echo_credentials=True)
        for stream in (False, True):
            answer = await gateway.post("/v1/chat/completions", json=chat(provider_id, stream))
            assert answer.status >= 400, (status, stream)
            assert_masked(await answer.text(), provider_id)
    fake.fault = Fault(error_event_after=2, echo_credentials=True)
    answer = await gateway.post("/v1/chat/completions", json=chat(provider_id, True))
    assert answer.status == 200
    events = await answer.text()
    assert '"error"' in events
    assert_masked(events, provider_id)
    assert KEYS[provider_id] not in caplog.text


@pytest.mark.parametrize("provider_id", sorted(KEYS))
async def test_admin_routes_never_echo_the_provider_key(
    gateway: Client, fakes: dict[str, FakeUpstream], provider_id: str
) -> None:
    base = f"/api/v1/providers/{provider_id}"
    for status in (401, 500):
        fakes[provider_id].fault = Fault(status=status, echo_credentials=True)
        for method, path in (("GET", "/models"), ("POST", "/models/refresh")):
            answer = await gateway.request(method, base + path)
            assert answer.status == 502, await answer.text()
            assert_masked(await answer.text(), provider_id)
        tested = await gateway.post(base + "/test")
        assert (await tested.json())["ok"] is False
        assert_masked(await tested.text(), provider_id)
        health = await (await gateway.get(base + "/health")).json()
        assert health["last_error"]
        assert_masked(health["last_error"], provider_id)


def test_mask_secrets_by_value_and_by_shape() -> None:
    register_secret("plain-value-no-shape-77")
    text = (
        "got plain-value-no-shape-77; sk-ant-api03-abcdefghijkl, sk-proj-abcdefghij, "
        "AIzaSyA1234567890abcdefghijklmno, Authorization: Bearer abc.def.ghi-jkl"
    )
    masked = mask_secrets(text)
    assert masked == ("got ***; sk-ant-***, sk-***, AIza***, Authorization: Bearer ***")
    # Ordinary messages are left alone.
    plain = "api_key: String should have at least 1 character; send 'Authorization: Bearer KEY'."
    assert mask_secrets(plain) == plain


@pytest.mark.parametrize("provider_id", sorted(KEYS))
async def test_messages_route_never_echoes_the_provider_key(
    gateway: Client, fakes: dict[str, FakeUpstream], provider_id: str
) -> None:
    """/v1/messages: native pass-through to Anthropic, translated for the others."""
    fake = fakes[provider_id]
    body = {"model": f"{provider_id}/model-a", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    for status in (401, 500):
        fake.fault = Fault(status=status, echo_credentials=True)
        for stream in (False, True):
            answer = await gateway.post("/v1/messages", json={**body, "stream": stream})
            assert answer.status >= 400, (status, stream)
            assert_masked(await answer.text(), provider_id)
    fake.fault = Fault(error_event_after=2, echo_credentials=True)
    answer = await gateway.post("/v1/messages", json={**body, "stream": True})
    assert answer.status == 200
    events = await answer.text()
    assert "error" in events
    assert_masked(events, provider_id)
