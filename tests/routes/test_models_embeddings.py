"""GET /api/v1/models and POST /api/v1/embeddings through the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.chat_upstream import FakeOpenAI, start_fake
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app
from tests.test_app import assert_openai_error


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    fake = await start_fake("a")
    yield fake
    assert fake.server is not None
    await fake.server.close()


async def test_models_lists_every_enabled_provider_with_the_catalog(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fake: FakeOpenAI
) -> None:
    app = gateway_app(
        make_settings(**QUIET),
        # a: its own names and alias, plus what its upstream lists (gpt-fake).
        {"provider_id": "a", "base_url": fake.base_url, "serves": ("m1", "m2"),
         "aliases": {"fast": "m1"}},
        # b: an allow-list; its upstream cannot be reached, so only the list shows.
        {"provider_id": "b", "base_url": "http://127.0.0.1:9/v1", "models": ["x"]},
        {"provider_id": "off", "base_url": fake.base_url, "serves": ("hidden",),
         "enabled": False},
    )  # fmt: skip
    client = await aiohttp_client(app, server_kwargs=SERVER_KWARGS)
    for path in ("/api/v1/models", "/v1/models"):
        response = await client.get(path)
        assert response.status == 200
        body = await response.json()
        assert body["object"] == "list"
        assert [(m["id"], m["owned_by"], m["object"]) for m in body["data"]] == [
            ("a/m1", "a", "model"),
            ("a/m2", "a", "model"),
            ("a/fast", "a", "model"),
            ("a/gpt-fake", "a", "model"),
            ("b/x", "b", "model"),
        ]
    # The discovered model now routes by its bare name.
    chat = await client.post(
        "/v1/chat/completions",
        json={"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert chat.status == 200
    assert chat.headers["X-Gateway-Provider"] == "a"


async def test_embeddings_relay(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fake: FakeOpenAI
) -> None:
    app = gateway_app(
        make_settings(**QUIET), {"provider_id": "a", "base_url": fake.base_url, "serves": ("emb",)}
    )
    client = await aiohttp_client(app, server_kwargs=SERVER_KWARGS)
    response = await client.post("/v1/embeddings", json={"model": "emb", "input": ["x", "y"]})
    assert response.status == 200
    body = await response.json()
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert body["model"] == "emb"
    assert response.headers["X-Gateway-Provider"] == "a"
    assert fake.requests[-1].path == "/v1/embeddings"

    bad = await client.post("/v1/embeddings", json={"model": "emb", "input": [{"x": 1}]})
    assert bad.status == 400
    assert assert_openai_error(await bad.json())["param"] == "input[0]"
    failed = await client.post("/v1/embeddings", json={"model": "a/fail-401", "input": "x"})
    assert failed.status == 401


async def test_embeddings_need_an_adapter_that_supports_them(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    app = gateway_app(
        make_settings(**QUIET),
        {"provider_id": "claude", "base_url": "http://127.0.0.1:9", "template": "anthropic",
         "serves": ("emb",)},
    )  # fmt: skip
    client = await aiohttp_client(app, server_kwargs=SERVER_KWARGS)
    response = await client.post("/v1/embeddings", json={"model": "emb", "input": "x"})
    assert response.status == 400
    assert_openai_error(await response.json(), "embeddings_unsupported")
