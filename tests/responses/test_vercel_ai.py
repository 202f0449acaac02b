"""The Vercel AI SDK's default ``openai(model)`` provider, run under node, against every fake."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import orjson
import pytest

from tests.fakes.base import Reply
from tests.responses.conftest import MODELS, Client, Fakes

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("node") / "vercel_ai.mjs"


async def test_generate_stream_and_tool_with_every_provider(gateway: Client, fakes: Fakes) -> None:
    if not (ROOT / "node_modules" / "@ai-sdk" / "openai").is_dir():
        pytest.fail("node_modules/@ai-sdk/openai is missing: `make test` installs it (npm ci)")
    node = shutil.which("node")
    assert node, "node is required for the Vercel AI SDK test"
    for model in MODELS:
        fakes.of(model).script = [
            Reply(text="Hi from the gateway."),
            Reply(text="Streamed hello."),
            Reply(text="", tool_calls=[("get_weather", {"city": "Paris"})]),
            Reply(text="It is sunny in Paris."),
        ]
    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        str(gateway.make_url("/v1")),
        *MODELS,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    seen = orjson.loads(out)
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
