"""One gateway in front of a fake OpenAI-compatible, a fake Anthropic and a fake Gemini upstream.

Providers ``oa``, ``an`` and ``gm``, configured the way operators do (providers.d
files from the shipped templates), with the models listed in MODELS. Used by the
wire-fidelity tests and the node SDK end-to-end test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import API_KEY
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app

Client = TestClient[web.Request, web.Application]

MODELS = {
    "oa": ("gpt-x", "emb-x"),
    "an": ("claude-sonnet-4-5", "claude-x", "custom-model"),
    "gm": ("gemini-2.5-flash", "text-embedding-004"),
}
CHAT_MODELS = {"oa": "oa/gpt-x", "an": "an/claude-x", "gm": "gm/gemini-2.5-flash"}
EMBEDDING_MODELS = {"oa": "oa/emb-x", "gm": "gm/text-embedding-004"}


@dataclass
class Upstreams:
    openai: FakeOpenAI
    anthropic: FakeAnthropic
    gemini: FakeGemini

    def by_provider(self, provider_id: str) -> FakeOpenAI | FakeAnthropic | FakeGemini:
        return {"oa": self.openai, "an": self.anthropic, "gm": self.gemini}[provider_id]


@asynccontextmanager
async def three_providers(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> AsyncIterator[tuple[Client, Upstreams]]:
    async with AsyncExitStack() as stack:
        fakes = Upstreams(
            await stack.enter_async_context(FakeOpenAI()),
            await stack.enter_async_context(FakeAnthropic()),
            await stack.enter_async_context(FakeGemini()),
        )
        app = gateway_app(
            make_settings(**QUIET),
            {"provider_id": "oa", "base_url": fakes.openai.url, "api_key": API_KEY,
             "serves": MODELS["oa"]},
            {"provider_id": "an", "base_url": fakes.anthropic.url.removesuffix("/v1"),
             "template": "anthropic", "api_key": API_KEY, "serves": MODELS["an"]},
            {"provider_id": "gm", "base_url": fakes.gemini.url, "template": "gemini",
             "api_key": API_KEY, "serves": MODELS["gm"]},
        )  # fmt: skip
        client = await aiohttp_client(app, server_kwargs=SERVER_KWARGS)
        yield client, fakes


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> AsyncIterator[tuple[Client, Upstreams]]:
    """The gateway and its three fakes (the fidelity and node SDK tests' conftests share it)."""
    async with three_providers(aiohttp_client, make_settings) as pair:
        yield pair
