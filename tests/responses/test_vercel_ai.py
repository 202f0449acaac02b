"""The Vercel AI SDK's default ``openai(model)`` provider, run under node, against every fake."""

from __future__ import annotations

import orjson

from tests.fakes.base import Reply
from tests.node.runner import run_node
from tests.responses.conftest import MODELS, Client, Fakes


async def test_generate_stream_and_tool_with_every_provider(gateway: Client, fakes: Fakes) -> None:
    for model in MODELS:
        fakes.of(model).replies = [
            Reply(text="Hi from the gateway."),
            Reply(text="Streamed hello."),
            Reply(text="", tool_calls=[("get_weather", {"city": "Paris"})]),
            Reply(text="It is sunny in Paris."),
        ]
    seen = await run_node("vercel_ai.mjs", str(gateway.make_url("/v1")), *MODELS)
    assert {r.path for r in fakes.native.requests} == {"/v1/responses"}  # relayed natively
    for model in MODELS:
        got = seen[model]
        assert got["text"] == "Hi from the gateway.", model
        assert got["usage"]["inputTokens"] == 12 and got["usage"]["outputTokens"] == 7, model
        assert got["streamed"] == "Streamed hello.", model
        assert got["streamedUsage"]["outputTokens"] == 7, model
        assert got["calls"] == ["Paris"] and got["steps"] == 2, model
        assert got["final"] == "It is sunny in Paris.", model
        result = orjson.dumps(fakes.of(model).requests[-1].json).decode()
        assert "sunny in Paris" in result, model
