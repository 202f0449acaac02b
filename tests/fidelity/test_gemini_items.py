"""Issue 15 for the Gemini adapter: tool schemas, reasoning, finish reasons, usage details,
stream errors and ordering, candidates, logprobs, PDFs and empty turns."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from gateway.adapters.base import ModelFamily, StreamUsage, Target, TemplatePaths
from gateway.adapters.gemini import GeminiAdapter
from gateway.adapters.sse import iter_data
from gateway.errors import InvalidRequest, UpstreamError
from tests.adapters.helpers import assemble, events_of, payloads, run_stream
from tests.openai_schema import assert_chat_stream_valid, assert_valid

ADAPTER = GeminiAdapter()
TARGET = Target(
    "gm",
    "https://generativelanguage.googleapis.com/v1beta",
    {"x-goog-api-key": "k"},
    TemplatePaths(chat="/models/{model}:generateContent"),
    families=(
        ModelFamily(("gemini-3",), True, "level", {"low": "low", "high": "high"}),
        ModelFamily(("gemini-2.5-flash",), True, "budget", {"none": 0, "low": 1024}),
    ),
)
HI = [{"role": "user", "content": "hi"}]

# zod 3 + zod-to-json-schema 3.24, as the Vercel AI SDK sends a tool's parameters:
# z.object({ city: z.string(), unit: z.enum(["c", "f"]).nullable(), days: z.number().int().gt(0) })
ZOD = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": ["string", "null"], "enum": ["c", "f", None]},
        "days": {"type": "integer", "exclusiveMinimum": 0},
        "kind": {"type": "string", "const": "forecast"},
    },
    "required": ["city", "unit", "days", "kind"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}
# An MCP server's tools/list entry (modelcontextprotocol.io specification 2025-06-18, server/tools).
MCP_TOOL = {
    "name": "get_weather",
    "description": "Get current weather information for a location",
    "inputSchema": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "City name or zip code"}},
        "required": ["location"],
    },
}


class Unit(StrEnum):
    C = "c"
    F = "f"


class Place(BaseModel):
    city: str
    country: str | None = None


class Query(BaseModel):
    place: Place
    stops: list[Place]
    unit: Unit = Unit.C


def body_of(body: dict[str, Any], model: str = "gemini-2.5-flash", stream: bool = False) -> Any:
    request = ADAPTER.build_chat(TARGET, body, b"", model, stream)
    assert request.body is not None
    return orjson.loads(request.body)


def test_tool_schemas_go_whole_as_parameters_json_schema() -> None:
    pydantic_schema = Query.model_json_schema()
    assert "$defs" in pydantic_schema  # nested models: $ref/$defs, Optional: anyOf null
    tools = [
        {"type": "function", "function": {"name": "zod", "parameters": ZOD}},
        {"type": "function", "function": {"name": "py", "parameters": pydantic_schema}},
        {"type": "function", "function": {"name": MCP_TOOL["name"],
                                           "parameters": MCP_TOOL["inputSchema"]}},
    ]  # fmt: skip
    declarations = body_of({"messages": HI, "tools": tools})["tools"][0]["functionDeclarations"]
    assert all("parameters" not in d for d in declarations)
    assert declarations[0]["parametersJsonSchema"] == {
        k: v for k, v in ZOD.items() if k != "$schema"
    }
    assert declarations[1]["parametersJsonSchema"] == pydantic_schema
    assert declarations[2]["parametersJsonSchema"] == MCP_TOOL["inputSchema"]
    response_format = {"type": "json_schema", "json_schema": {"name": "z", "schema": ZOD}}
    config = body_of({"messages": HI, "response_format": response_format})["generationConfig"]
    assert "$schema" not in config["responseJsonSchema"]
    assert config["responseJsonSchema"]["additionalProperties"] is False


def test_reasoning_effort_becomes_thinking_config() -> None:
    flash = body_of({"messages": HI, "reasoning_effort": "low"})["generationConfig"]
    assert flash["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}
    off = body_of({"messages": HI, "reasoning_effort": "none"})["generationConfig"]
    assert off["thinkingConfig"] == {"thinkingBudget": 0, "includeThoughts": False}
    three = body_of({"messages": HI, "reasoning_effort": "high"}, "gemini-3-pro")
    assert three["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "high"
    with pytest.raises(InvalidRequest) as caught:
        body_of({"messages": HI, "reasoning_effort": "low"}, "gemini-1.5-pro")
    assert caught.value.param == "reasoning_effort"


def answer(finish: str, parts: list[Any] | None = None, **candidate: Any) -> bytes:
    content = {"role": "model", "parts": parts if parts is not None else []}
    return orjson.dumps({"candidates": [{"content": content, "finishReason": finish, **candidate}]})


@pytest.mark.parametrize(
    "reason",
    ["BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "SAFETY", "RECITATION"],
)
def test_content_policy_reasons_are_content_filter_with_the_message(reason: str) -> None:
    result = ADAPTER.parse_chat(answer(reason, finishMessage="Blocked: policy."), "m")
    assert_valid("CreateChatCompletionResponse", result)
    choice = result["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["message"]["refusal"] == "Blocked: policy."


def test_malformed_function_call_is_an_upstream_error() -> None:
    payload = answer("MALFORMED_FUNCTION_CALL", finishMessage="Malformed function call: x(")
    with pytest.raises(UpstreamError, match=r"Malformed function call: x\("):
        ADAPTER.parse_chat(payload, "m")
    kept = ADAPTER.parse_chat(answer("MALFORMED_FUNCTION_CALL", [{"text": "Sorry."}]), "m")
    assert kept["choices"][0]["message"]["content"] == "Sorry."


def test_unknown_reason_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "gateway.adapters.gemini"):
        for _ in range(3):
            result = ADAPTER.parse_chat(answer("BRAND_NEW_REASON", [{"text": "x"}]), "m")
            assert result["choices"][0]["finish_reason"] == "stop"
    assert sum("BRAND_NEW_REASON" in r.getMessage() for r in caplog.records) == 1


def test_usage_details() -> None:
    metadata = {"promptTokenCount": 100, "cachedContentTokenCount": 60,
                "candidatesTokenCount": 10, "thoughtsTokenCount": 30}  # fmt: skip
    payload = orjson.loads(answer("STOP", [{"text": "x"}]))
    usage = ADAPTER.parse_chat(orjson.dumps({**payload, "usageMetadata": metadata}), "m")["usage"]
    assert usage["prompt_tokens"] == 100 and usage["completion_tokens"] == 40
    assert usage["prompt_tokens_details"] == {"cached_tokens": 60}
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 30}


async def test_usage_details_in_the_final_chunk() -> None:
    metadata = {"promptTokenCount": 9, "cachedContentTokenCount": 4,
                "candidatesTokenCount": 2, "thoughtsTokenCount": 3}  # fmt: skip
    event = orjson.loads(answer("STOP", [{"text": "x"}]))
    out, usage = await run_stream(ADAPTER, [orjson.dumps({**event, "usageMetadata": metadata})])
    final = assert_chat_stream_valid(out)[-1]["usage"]
    assert final["prompt_tokens_details"]["cached_tokens"] == 4
    assert final["completion_tokens_details"]["reasoning_tokens"] == 3
    assert usage[-1] == StreamUsage(9, 5, cached_tokens=4, reasoning_tokens=3)


async def test_a_raw_json_error_in_a_stream_ends_it_with_an_error_event() -> None:
    body = [
        b'data: {"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]}\r\n\r\n',
        b'[{\n  "error": {\n    "code": 503,\n    "message": "The model is overloaded.",\n',
        b'    "status": "UNAVAILABLE"\n  }\n}\n]',
    ]
    out = b"".join(
        [c async for c in ADAPTER.stream_chat(iter_data(payloads(body)), "m", False, [])]
    )
    events = assert_chat_stream_valid(out)
    assert events[-1]["error"]["message"] == "The model is overloaded."
    assert not any(c.get("choices") and c["choices"][0]["finish_reason"] for c in events[:-1])


async def test_a_stream_that_stops_without_a_finish_is_an_error() -> None:
    part = orjson.dumps({"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]})
    out, _ = await run_stream(ADAPTER, [part], include_usage=False)
    assert "error" in assert_chat_stream_valid(out)[-1]


async def test_content_after_the_finish_reason_comes_before_it() -> None:
    first = answer("STOP", [{"text": "Hello"}])
    late = orjson.dumps({"candidates": [{"content": {"parts": [{"text": " world"}]}}]})
    out, _ = await run_stream(ADAPTER, [first, late], include_usage=False)
    chunks = assert_chat_stream_valid(out)
    message = assemble(chunks)
    assert message["content"] == "Hello world" and message["finish_reason"] == "stop"


def test_n_is_candidate_count_and_candidates_are_choices() -> None:
    config = body_of({"messages": HI, "n": 2})["generationConfig"]
    assert config["candidateCount"] == 2
    two = {"candidates": [
        {"index": 0, "content": {"parts": [{"text": "A"}]}, "finishReason": "STOP"},
        {"index": 1, "content": {"parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS"},
    ]}  # fmt: skip
    result = ADAPTER.parse_chat(orjson.dumps(two), "m")
    assert_valid("CreateChatCompletionResponse", result)
    assert [
        (c["index"], c["message"]["content"], c["finish_reason"]) for c in result["choices"]
    ] == [
        (0, "A", "stop"),
        (1, "B", "length"),
    ]


async def test_candidates_stream_as_choices() -> None:
    two = {"candidates": [
        {"index": 0, "content": {"parts": [{"text": "A"}]}, "finishReason": "STOP"},
        {"index": 1, "content": {"parts": [{"text": "B"}]}, "finishReason": "STOP"},
    ]}  # fmt: skip
    out, _ = await run_stream(ADAPTER, [orjson.dumps(two)], include_usage=False)
    chunks = assert_chat_stream_valid(out)
    by_index: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            by_index[choice["index"]] = by_index.get(choice["index"], "") + (
                choice["delta"].get("content") or ""
            )
    assert by_index == {0: "A", 1: "B"}


def test_logprobs_are_asked_for_and_mapped() -> None:
    config = body_of({"messages": HI, "logprobs": True, "top_logprobs": 2})["generationConfig"]
    assert config["responseLogprobs"] is True and config["logprobs"] == 2
    logprobs = {
        "chosenCandidates": [{"token": "Hi", "logProbability": -0.1}],
        "topCandidates": [{"candidates": [{"token": "Hi", "logProbability": -0.1},
                                          {"token": "Hey", "logProbability": -2.5}]}],
    }  # fmt: skip
    result = ADAPTER.parse_chat(answer("STOP", [{"text": "Hi"}], logprobsResult=logprobs), "m")
    assert_valid("CreateChatCompletionResponse", result)
    content = result["choices"][0]["logprobs"]["content"]
    assert content[0]["token"] == "Hi" and content[0]["logprob"] == -0.1
    assert [t["token"] for t in content[0]["top_logprobs"]] == ["Hi", "Hey"]


def test_pdf_parts_and_empty_turns() -> None:
    pdf = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x"}}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Read"}, pdf]},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "Well?"},
    ]
    contents = body_of({"messages": messages})["contents"]
    assert contents[0]["parts"][1] == {
        "inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}
    }
    assert [c["role"] for c in contents] == ["user", "user"]
    assert all(c["parts"] for c in contents)


def test_thought_signatures_still_round_trip() -> None:
    part = {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}
    result = ADAPTER.parse_chat(answer("STOP", [part]), "m")
    call = result["choices"][0]["message"]["tool_calls"][0]
    messages = [*HI, {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": "ok"}]  # fmt: skip
    assert body_of({"messages": messages})["contents"][1]["parts"][0]["thoughtSignature"] == "c2ln"


async def test_events_helper_sees_errors() -> None:
    error = orjson.dumps(
        {"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}
    )
    out, _ = await run_stream(ADAPTER, [error])
    assert events_of(out)[-1]["error"]["code"] == "RESOURCE_EXHAUSTED"
