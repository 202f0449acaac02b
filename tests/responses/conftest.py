"""One gateway in front of four fakes, each reached the way the Responses API reaches it.

Models: ``native`` (OpenAI template: relayed to the fake's /v1/responses),
``compat`` (vLLM template: OpenAI-compatible, translated through chat),
``claude`` (Anthropic) and ``gem`` (Gemini), both translated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import openai
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
MODELS = ("native", "compat", "claude", "gem")


@dataclass
class Fakes:
    native: FakeOpenAI
    compat: FakeOpenAI
    claude: FakeAnthropic
    gem: FakeGemini

    def of(self, model: str) -> Any:
        return getattr(self, model)


@pytest.fixture
async def fakes() -> AsyncIterator[Fakes]:
    async with FakeOpenAI() as a, FakeOpenAI() as b, FakeAnthropic() as c, FakeGemini() as d:
        yield Fakes(a, b, c, d)


def providers(fakes: Fakes) -> list[dict[str, Any]]:
    """providers.d entries for the four models."""
    return [
        {"provider_id": "oa", "base_url": fakes.native.url, "serves": ("native",)},
        {"provider_id": "vl", "base_url": fakes.compat.url, "serves": ("compat",),
         "template": "vllm"},
        {"provider_id": "an", "base_url": fakes.claude.url.removesuffix("/v1"),
         "serves": ("claude",), "template": "anthropic"},
        {"provider_id": "ge", "base_url": fakes.gem.url, "serves": ("gem",),
         "template": "gemini"},
    ]  # fmt: skip


def make_gateway(settings: Settings, fakes: Fakes) -> web.Application:
    return gateway_app(settings, *({**p, "api_key": API_KEY} for p in providers(fakes)))


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fakes: Fakes
) -> Client:
    return await aiohttp_client(
        make_gateway(make_settings(**QUIET), fakes), server_kwargs=SERVER_KWARGS
    )


@pytest.fixture
async def sdk(gateway: Client) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(
        base_url=str(gateway.make_url("/v1")), api_key="unused", max_retries=0
    )
    yield client
    await client.close()
