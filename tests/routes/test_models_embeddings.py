"""GET /api/v1/models and POST /api/v1/embeddings through the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from gateway.proxy import ADAPTERS
from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.chat_gateway import SERVER_KWARGS, PassthroughAdapter, chat_app, provider
from tests.fakes.chat_upstream import FakeOpenAI, start_fake
from tests.test_app import assert_openai_error


class NoEmbeddings(PassthroughAdapter):
    supports_embeddings = False


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    fake = await start_fake("a")
    yield fake
    assert fake.server is not None
    await fake.server.close()


async def test_models_lists_every_enabled_provider(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    app, _ = chat_app(
        make_settings(),
        [
            provider("a", static_models=("m1", "m2"), aliases={"fast": "m1"}),
            provider("b", allowed_models=frozenset({"x"})),
            provider("off", enabled=False, static_models=("hidden",)),
        ],
    )
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
            ("b/x", "b", "model"),
        ]


async def test_embeddings_relay(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fake: FakeOpenAI
) -> None:
    app, _ = chat_app(make_settings(), [provider("a", fake.base_url, static_models=("emb",))])
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
    app, _ = chat_app(make_settings(), [provider("a", static_models=("emb",))])
    app[ADAPTERS]["openai"] = NoEmbeddings()
    client = await aiohttp_client(app, server_kwargs=SERVER_KWARGS)
    response = await client.post("/v1/embeddings", json={"model": "emb", "input": "x"})
    assert response.status == 400
    assert_openai_error(await response.json(), "embeddings_unsupported")
