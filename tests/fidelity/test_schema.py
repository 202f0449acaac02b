"""Every answer of every adapter against OpenAI's published schemas (tests/openai_schema.py).

Each golden case goes through the real gateway to a fake upstream speaking the
provider's wire format: the non-streamed answer, every stream chunk, the error
bodies (before and inside a stream), the model list, one model, and embeddings.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any

import pytest

from gateway.adapters.anthropic import AnthropicAdapter
from gateway.adapters.gemini import GeminiAdapter
from tests.adapters import test_anthropic, test_gemini
from tests.adapters.helpers import run_stream
from tests.fakes.base import Fault, Reply
from tests.fidelity.gateway import (
    CHAT_MODELS,
    EMBEDDING_MODELS,
    Client,
    Upstreams,
)
from tests.openai_schema import assert_chat_stream_valid, assert_valid

TOOLS = [("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})]
NATIVE_FINISH = {
    "length": {"oa": "length", "an": "max_tokens", "gm": "MAX_TOKENS"},
    "content_filter": {"oa": "content_filter", "an": "refusal", "gm": "SAFETY"},
}
CASES: dict[str, Callable[[str], Reply]] = {
    "text": lambda _: Reply(),
    "reasoning": lambda _: Reply(reasoning="Thinking it over.", reasoning_tokens=3),
    "tools": lambda _: Reply(text="", tool_calls=TOOLS),
    "cached": lambda _: Reply(cached_tokens=8),
    "length": lambda p: Reply(finish=NATIVE_FINISH["length"][p]),
    "filtered": lambda p: Reply(text="", finish=NATIVE_FINISH["content_filter"][p]),
}
TOOL_SPECS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n, _ in TOOLS
]


def chat(provider: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": CHAT_MODELS[provider],
        "messages": [{"role": "user", "content": "Weather?"}],
        "tools": TOOL_SPECS,
        **extra,
    }


@pytest.mark.parametrize("provider", sorted(CHAT_MODELS))
async def test_answers_and_chunks_of_every_case(
    gateway: tuple[Client, Upstreams], provider: str
) -> None:
    client, fakes = gateway
    for name, make in CASES.items():
        fakes.by_provider(provider).reply = make(provider)
        answer = await client.post("/v1/chat/completions", json=chat(provider))
        assert answer.status == 200, (name, await answer.text())
        assert_valid("CreateChatCompletionResponse", await answer.json())
        body = chat(provider, stream=True, stream_options={"include_usage": True})
        streamed = await client.post("/v1/chat/completions", json=body)
        assert streamed.status == 200, (name, await streamed.text())
        events = assert_chat_stream_valid(await streamed.read())
        assert events[-1]["usage"]["total_tokens"] > 0, name


@pytest.mark.parametrize("provider", sorted(CHAT_MODELS))
async def test_error_bodies(gateway: tuple[Client, Upstreams], provider: str) -> None:
    client, fakes = gateway
    fake = fakes.by_provider(provider)
    for status in (400, 401, 429, 500):
        fake.fault = Fault(status=status)
        answer = await client.post("/v1/chat/completions", json=chat(provider))
        assert answer.status >= 400
        assert_valid("ErrorResponse", await answer.json())
    fake.fault = Fault(error_event_after=3)
    streamed = await client.post("/v1/chat/completions", json=chat(provider, stream=True))
    events = assert_chat_stream_valid(await streamed.read())
    assert "error" in events[-1]
    unknown = await client.post("/v1/chat/completions", json={**chat(provider), "model": "x/y"})
    assert_valid("ErrorResponse", await unknown.json())


async def test_models_and_embeddings(gateway: tuple[Client, Upstreams]) -> None:
    client, _ = gateway
    listing = await (await client.get("/v1/models")).json()
    assert_valid("ListModelsResponse", listing)
    for model in listing["data"]:
        one = await client.get(f"/v1/models/{model['id']}")
        assert one.status == 200
        assert_valid("Model", await one.json())
    for model in EMBEDDING_MODELS.values():
        body = {"model": model, "input": ["a", "bb"]}
        floats = await (await client.post("/v1/embeddings", json=body)).json()
        assert_valid("CreateEmbeddingResponse", floats)
        coded = await (
            await client.post("/v1/embeddings", json={**body, "encoding_format": "base64"})
        ).json()
        for item, plain in zip(coded["data"], floats["data"], strict=True):
            raw = base64.b64decode(item["embedding"])
            item["embedding"] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
            assert item["embedding"] == pytest.approx(plain["embedding"])
        assert_valid("CreateEmbeddingResponse", coded)


async def test_adapter_golden_streams() -> None:
    """The adapters' own golden streams (tests/adapters) chunk by chunk."""
    for adapter, stream in (
        (AnthropicAdapter(), test_anthropic.STREAM),
        (GeminiAdapter(), test_gemini.STREAM),
    ):
        out, _ = await run_stream(adapter, stream)
        assert_chat_stream_valid(out)
