"""Recorded provider exchanges (tests/fidelity/transcripts, sources named in each file)
replayed through the adapters: what the client gets, and what goes back upstream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from gateway.adapters.anthropic import AnthropicAdapter
from gateway.adapters.base import Target
from gateway.adapters.gemini import GeminiAdapter
from gateway.adapters.sse import iter_data
from tests.adapters.helpers import assemble, payloads
from tests.openai_schema import assert_chat_stream_valid

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def transcript(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((TRANSCRIPTS / name).read_text())
    return loaded


async def test_anthropic_thinking_and_tool_use_round_trip() -> None:
    recorded = transcript("anthropic_thinking_tool_use.yaml")
    adapter = AnthropicAdapter()
    body = recorded["stream"].encode()
    pieces = [body[i : i + 97] for i in range(0, len(body), 97)]  # cut anywhere, as TCP does
    usage: list[Any] = []
    out = b"".join(
        [c async for c in adapter.stream_chat(iter_data(payloads(pieces)), "m", True, usage)]
    )
    chunks = assert_chat_stream_valid(out)
    message = assemble(chunks)
    assert message["finish_reason"] == "tool_calls"
    assert message["reasoning"].startswith("The user is asking for weather information")
    blocks = [
        block
        for chunk in chunks
        if chunk["choices"]
        for block in chunk["choices"][0]["delta"].get("thinking_blocks", ())
    ]
    assert chunks[-1]["usage"]["prompt_tokens"] == 423
    assert chunks[-1]["usage"]["completion_tokens"] == 119

    # The client sends the turn back as OpenAI messages; Anthropic must get what it recorded.
    call = message["tool_calls"][0]
    messages = [
        {"role": "user", "content": "What's the weather in Florence, Italy?"},
        {
            "role": "assistant",
            "content": None,
            "thinking_blocks": blocks,
            "tool_calls": [{"id": call["id"], "type": "function",
                            "function": {"name": call["name"], "arguments": call["arguments"]}}],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": "40 C"},
    ]  # fmt: skip
    request = adapter.build_chat(
        Target("an", "https://api.anthropic.com/v1", {}), {"messages": messages}, b"", "m", True
    )
    assert request.body is not None
    sent = orjson.loads(request.body)["messages"][1]
    assert sent == orjson.loads(recorded["next_assistant_turn"])


async def test_gemini_tool_call_with_thought_signature() -> None:
    recorded = transcript("gemini_tool_stream.yaml")
    adapter = GeminiAdapter()

    async def replay(body: str) -> list[Any]:
        events = iter_data(payloads([body.encode()]))
        out = b"".join([c async for c in adapter.stream_chat(events, "m", True, [])])
        return assert_chat_stream_valid(out)

    chunks = await replay(recorded["call"])
    message = assemble(chunks)
    assert message["finish_reason"] == "tool_calls"
    assert [(c["name"], orjson.loads(c["arguments"])) for c in message["tool_calls"]] == [
        ("weather", {"location": "Florence,Italy"})
    ]
    usage = chunks[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        54,
        69,
        123,
    )
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 54
    call = next(
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and c["choices"][0]["delta"].get("tool_calls")
    )
    signature = call["extra_content"]["google"]["thought_signature"]
    assert signature.startswith("CiQB0e2Kbz2c")

    messages = [
        {"role": "user", "content": "What's the weather in Florence,Italy?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{k: v for k, v in call.items() if k != "index"}],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": "40 C"},
    ]
    request = adapter.build_chat(
        Target("gm", "https://generativelanguage.googleapis.com/v1beta", {}),
        {"messages": messages},
        b"",
        "gemini-2.5-flash",
        True,
    )
    assert request.body is not None
    sent = orjson.loads(request.body)["contents"]
    assert sent[1]["parts"] == [
        {"functionCall": {"name": "weather", "args": {"location": "Florence,Italy"}},
         "thoughtSignature": signature}
    ]  # fmt: skip
    assert sent[2]["parts"][0]["functionResponse"]["name"] == "weather"

    answer = assemble(await replay(recorded["after_result"]))
    assert answer["content"] == "The weather in Florence, Italy is 40 C."
    assert answer["finish_reason"] == "stop"
