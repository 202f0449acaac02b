"""Issue 15 through the gateway to the fake Anthropic upstream: refusal, response_format,
reasoning_effort, the thinking round trip, cached usage and the temperature clamp."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.adapters.base import StreamUsage
from gateway.usage import USAGE_HOOKS
from tests.adapters.helpers import assemble
from tests.fakes.base import Reply
from tests.fidelity.gateway import Client, Upstreams
from tests.openai_schema import assert_chat_stream_valid, assert_valid

RESPONSE_TOOL = "json_response"
"""The answer tool's name (gateway.adapters.anthropic.RESPONSE_TOOL), as documented."""
HI = [{"role": "user", "content": "What's the weather in Paris?"}]
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": CITY}}]


async def post(client: Client, **body: Any) -> tuple[Any, dict[str, str]]:
    answer = await client.post("/v1/chat/completions", json={"messages": HI, **body})
    if body.get("stream"):
        return assert_chat_stream_valid(await answer.read()), dict(answer.headers)
    payload = await answer.json()
    assert answer.status == 200, payload
    assert_valid("CreateChatCompletionResponse", payload)
    return payload, dict(answer.headers)


async def test_refusal_is_set(gateway: tuple[Client, Upstreams]) -> None:
    client, fakes = gateway
    fakes.anthropic.reply = Reply(text="", finish="refusal")
    answer, _ = await post(client, model="an/claude-x")
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "content_filter" and choice["message"]["refusal"]
    events, _ = await post(client, model="an/claude-x", stream=True)
    assert any(c["choices"] and c["choices"][0]["delta"].get("refusal") for c in events)


async def test_json_schema_uses_structured_outputs_where_the_family_has_them(
    gateway: tuple[Client, Upstreams],
) -> None:
    client, fakes = gateway
    schema = {"type": "object", "properties": {"t": {"type": "number"}}, "required": ["t"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "w", "schema": schema}}
    fakes.anthropic.reply = Reply(text='{"t": 21}')
    answer, _ = await post(client, model="an/claude-sonnet-4-5", response_format=response_format)
    sent = fakes.anthropic.requests[-1].json
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in sent and answer["choices"][0]["message"]["content"] == '{"t": 21}'


@pytest.mark.parametrize("stream", [False, True])
async def test_response_format_elsewhere_is_a_forced_tool_unwrapped(
    gateway: tuple[Client, Upstreams], stream: bool
) -> None:
    client, fakes = gateway
    fakes.anthropic.reply = Reply(text="", tool_calls=[(RESPONSE_TOOL, {"t": 21})])
    answer, _ = await post(
        client, model="an/claude-x", response_format={"type": "json_object"}, stream=stream
    )
    sent = fakes.anthropic.requests[-1].json
    assert sent["tool_choice"] == {"type": "tool", "name": RESPONSE_TOOL}
    assert [t["name"] for t in sent["tools"]] == [RESPONSE_TOOL]
    message = assemble(answer) if stream else answer["choices"][0]["message"]
    assert orjson.loads(message["content"]) == {"t": 21}
    assert not message.get("tool_calls")
    finish = message["finish_reason"] if stream else answer["choices"][0]["finish_reason"]
    assert finish == "stop"


async def test_reasoning_effort_becomes_a_thinking_budget(
    gateway: tuple[Client, Upstreams],
) -> None:
    client, fakes = gateway
    await post(client, model="an/claude-sonnet-4-5", reasoning_effort="low", temperature=0.3)
    sent = fakes.anthropic.requests[-1].json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["max_tokens"] > 2048 and "temperature" not in sent
    refused = await client.post(
        "/v1/chat/completions",
        json={"model": "an/custom-model", "messages": HI, "reasoning_effort": "high"},
    )
    assert refused.status == 400 and (await refused.json())["error"]["param"] == "reasoning_effort"


@pytest.mark.parametrize("stream", [False, True])
async def test_thinking_survives_a_tool_round_trip(
    gateway: tuple[Client, Upstreams], stream: bool
) -> None:
    client, fakes = gateway
    fakes.anthropic.reply = Reply(
        text="", reasoning="Need the weather.", tool_calls=[("get_weather", {"city": "Paris"})]
    )
    first, _ = await post(
        client, model="an/claude-sonnet-4-5", tools=WEATHER, reasoning_effort="low", stream=stream
    )
    if stream:
        blocks = [
            b
            for c in first
            if c["choices"]
            for b in c["choices"][0]["delta"].get("thinking_blocks", ())
        ]
        message = assemble(first)
        calls = [{"id": c["id"], "type": "function",
                  "function": {"name": c["name"], "arguments": c["arguments"]}}
                 for c in message["tool_calls"]]  # fmt: skip
    else:
        blocks = first["choices"][0]["message"]["thinking_blocks"]
        calls = first["choices"][0]["message"]["tool_calls"]
    assert blocks == [{"type": "thinking", "thinking": "Need the weather.", "signature": "sig"}]
    fakes.anthropic.reply = Reply(text="Sunny.")
    turn = {"role": "assistant", "content": None, "tool_calls": calls, "thinking_blocks": blocks}
    result = {"role": "tool", "tool_call_id": calls[0]["id"], "content": "21C"}
    answer = await client.post(
        "/v1/chat/completions",
        json={"model": "an/claude-sonnet-4-5", "messages": [*HI, turn, result], "tools": WEATHER,
              "reasoning_effort": "low"},
    )  # fmt: skip
    assert answer.status == 200, await answer.text()
    sent = fakes.anthropic.requests[-1].json["messages"][1]["content"]
    assert sent[0] == blocks[0] and sent[1]["type"] == "tool_use"


async def test_cached_tokens_are_reported_and_recorded(
    gateway: tuple[Client, Upstreams],
) -> None:
    client, fakes = gateway
    seen: list[StreamUsage] = []
    client.app[USAGE_HOOKS].append(lambda _r, _p, _m, usage: seen.append(usage))
    fakes.anthropic.reply = Reply(prompt_tokens=100, cached_tokens=80, completion_tokens=5)
    answer, _ = await post(client, model="an/claude-x")
    assert answer["usage"]["prompt_tokens"] == 100
    assert answer["usage"]["prompt_tokens_details"]["cached_tokens"] == 80
    events, _ = await post(
        client, model="an/claude-x", stream=True, stream_options={"include_usage": True}
    )
    assert events[-1]["usage"]["prompt_tokens_details"]["cached_tokens"] == 80
    assert [u.cached_tokens for u in seen] == [80, 80]


async def test_temperature_clamp_is_announced(gateway: tuple[Client, Upstreams]) -> None:
    client, fakes = gateway
    _, headers = await post(client, model="an/claude-x", temperature=1.7)
    assert fakes.anthropic.requests[-1].json["temperature"] == 1.0
    assert headers["X-Gateway-Adjusted"] == "temperature"
    _, headers = await post(client, model="an/claude-x", temperature=1.7, stream=True)
    assert headers["X-Gateway-Adjusted"] == "temperature"
    _, headers = await post(client, model="an/claude-x", temperature=0.5)
    assert "X-Gateway-Adjusted" not in headers


async def test_pdf_file_parts_become_documents(gateway: tuple[Client, Upstreams]) -> None:
    client, fakes = gateway
    pdf = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"},
    }
    text = {"type": "text", "text": "Summarize"}
    messages = [{"role": "user", "content": [text, pdf]}]
    answer = await client.post(
        "/v1/chat/completions", json={"model": "an/claude-x", "messages": messages}
    )
    assert answer.status == 200, await answer.text()
    sent = fakes.anthropic.requests[-1].json["messages"][0]["content"][1]
    assert sent == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
    }
