"""Shared by the ledger tests: a gateway in front of the three fake upstreams, exact prices."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import API_KEY
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI

Client = TestClient[web.Request, web.Application]
ADMIN_KEY = "admin-ledger-test-key-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
HELLO = [{"role": "user", "content": "hi"}]


def _usd(*prices: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(price) for price in prices)


# The built-in templates' published prices, USD per million: input, output, cache reads
# and cache writes (a provider without a write price charges writes as input).
TEMPLATE_PRICES = {
    "gpt-4o-mini": _usd("0.15", "0.60", "0.075", "0.15"),
    "claude-sonnet-4-5": _usd("3.00", "15.00", "0.30", "3.75"),
    "gemini-2.5-flash": _usd("0.30", "2.50", "0.075", "0.30"),
    "gemini-2.5-pro": _usd("1.25", "10.00", "0.31", "1.25"),
}
LONG_PROMPT = 200_000
"""Past this many prompt tokens, these models charge their LONG_PROMPT_PRICES for every token."""
LONG_PROMPT_PRICES = {
    "claude-sonnet-4-5": _usd("6.00", "22.50", "0.60", "7.50"),
    "gemini-2.5-pro": _usd("2.50", "15.00", "0.625", "2.50"),
}
MODEL_OF = {"oa": "gpt-4o-mini", "an": "claude-sonnet-4-5", "ge": "gemini-2.5-flash"}


def providers(
    openai: FakeOpenAI, anthropic: FakeAnthropic, gemini: FakeGemini
) -> list[dict[str, Any]]:
    """providers.d entries (tests/providers_d.py) for the three fakes, priced by their templates."""
    return [
        {"provider_id": "oa", "base_url": openai.url, "api_key": API_KEY},
        {
            "provider_id": "an",
            "base_url": anthropic.url.removesuffix("/v1"),
            "template": "anthropic",
            "api_key": API_KEY,
        },
        {"provider_id": "ge", "base_url": gemini.url, "template": "gemini", "api_key": API_KEY},
    ]


def expected_cost(
    model: str, prompt: int, completion: int, cached: int = 0, written: int = 0
) -> float:
    """Exact decimal arithmetic, then one rounding to float (as the ledger reports).

    ``cached`` and ``written`` prompt tokens (cache reads and writes, part of ``prompt``)
    are charged at their own prices.
    """
    prices = TEMPLATE_PRICES[model]
    if prompt > LONG_PROMPT and model in LONG_PROMPT_PRICES:
        prices = LONG_PROMPT_PRICES[model]
    price_in, price_out, price_cached, price_write = prices
    total = (
        (prompt - cached - written) * price_in
        + cached * price_cached
        + written * price_write
        + completion * price_out
    )
    return float(total / 1_000_000)


async def chat(client: Client, model: str, *, stream: bool = False, headers: Any = None) -> Any:
    """One chat completion; the JSON body, or the raw SSE bytes of a stream."""
    body: dict[str, Any] = {"model": model, "messages": HELLO}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    response = await client.post("/v1/chat/completions", json=body, headers=headers or ADMIN)
    assert response.status == 200, await response.text()
    return await (response.read() if stream else response.json())


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 3.0) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def assert_documented(client: Client, path: str, method: str, answer: Any) -> None:
    """``answer`` matches the 200 schema /api/v1/openapi.json gives for ``method path``."""
    document = await (await client.get("/api/v1/openapi.json")).json()
    operation = document["paths"][path][method]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    errors = [error.message for error in Draft202012Validator(schema).iter_errors(answer)]
    assert not errors, errors
