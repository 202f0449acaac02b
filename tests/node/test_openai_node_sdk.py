"""The official `openai` npm SDK end to end: chat, streaming with usage, tools,
models.retrieve and embeddings.create (base64 by default) over each adapter."""

from __future__ import annotations

import pytest

from tests.fakes.base import Reply
from tests.fidelity.gateway import (
    CHAT_MODELS,
    EMBEDDING_MODELS,
    Client,
    Upstreams,
)
from tests.node.runner import run_node


@pytest.mark.parametrize("provider", sorted(CHAT_MODELS))
async def test_openai_npm_sdk(gateway: tuple[Client, Upstreams], provider: str) -> None:
    client, fakes = gateway
    fake = fakes.by_provider(provider)
    fake.reply = Reply(text="Sunny in Paris.", prompt_tokens=12, completion_tokens=7)
    args = [CHAT_MODELS[provider]]
    if provider in EMBEDDING_MODELS:
        args.append(EMBEDDING_MODELS[provider])

    tool_reply = Reply(text="", tool_calls=[("get_weather", {"city": "Paris"})])
    fake.replies = [fake.reply, fake.reply, tool_reply]  # chat, stream, then the tools call
    report = await run_node("openai_sdk.mjs", str(client.make_url("/v1")), *args)
    assert isinstance(report, dict)
    assert report["chat"]["content"] == "Sunny in Paris." and report["chat"]["finish"] == "stop"
    assert report["chat"]["usage"]["total_tokens"] == 19
    assert report["stream"] == {"content": "Sunny in Paris.", "usage": report["stream"]["usage"]}
    assert report["stream"]["usage"]["prompt_tokens"] == 12
    assert report["tools"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert report["model"] == {"id": CHAT_MODELS[provider], "owned_by": provider}
    if provider == "oa":
        assert report["embeddings"] == [
            pytest.approx([0.1, 0.2, 0.3]),
            pytest.approx([0.2, 0.2, 0.3]),
        ]
    elif provider == "gm":
        assert report["embeddings"] == [[0.5, 0.0, 0.25], [0.5, 1.0, 0.25]]
        assert report["embeddingUsage"]["prompt_tokens"] > 0
