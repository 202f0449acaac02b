"""Messages body -> chat body, and chat.completion -> Message: every rule of the translation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.adapters.base import JSON
from gateway.errors import InvalidRequest
from gateway.messages.answer import to_message
from gateway.messages.request import params, to_chat

PNG = "iVBORw0KGgo="


def translate(**body: Any) -> JSON:
    full = {"model": "claude-sonnet-4-5", "max_tokens": 100, **body}
    full.setdefault("messages", [{"role": "user", "content": "hi"}])
    return to_chat(full, params(full))


def test_system_blocks_turns_and_parameters() -> None:
    chat = translate(
        system=[
            {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Answer in French."},
        ],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Bonjour", "cache_control": {}}]},
            {"role": "assistant", "content": "Salut"},
            {"role": "user", "content": "Ça va ?"},
        ],
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END"],
        metadata={"user_id": "user-7"},
        stream=True,
    )
    assert chat == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [
            {"role": "system", "content": "You are terse.\n\nAnswer in French."},
            {"role": "user", "content": "Bonjour"},
            {"role": "assistant", "content": "Salut"},
            {"role": "user", "content": "Ça va ?"},
        ],
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["END"],
        "user": "user-7",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert "cache_control" not in orjson.dumps(chat).decode()


def test_images_and_documents() -> None:
    chat = translate(
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "JVBERi0=",
                        },
                        "title": "r.pdf",
                    },
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "plain"},
                    },
                    {"type": "text", "text": "Describe."},
                ],
            }
        ]
    )
    assert chat["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}},
        {
            "type": "file",
            "file": {"filename": "r.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
        },
        {"type": "text", "text": "plain"},
        {"type": "text", "text": "Describe."},
    ]


def test_tool_round_trip_history() -> None:
    chat = translate(
        messages=[
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Two cities.", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "weather",
                        "input": {"city": "Paris"},
                    },
                    {
                        "type": "tool_use",
                        "id": "toolu_2",
                        "name": "weather",
                        "input": {"city": "Rome"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "is_error": True,
                        "content": [
                            {"type": "text", "text": "service down"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": PNG,
                                },
                            },
                        ],
                    },
                    {"type": "text", "text": "Go on."},
                ],
            },
        ],
        tools=[
            {
                "name": "weather",
                "description": "Weather now",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        ],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
    )
    assistant = chat["messages"][1]
    assert assistant["content"] == "Checking." and "reasoning_content" not in assistant
    assert [
        (c["id"], orjson.loads(c["function"]["arguments"])) for c in assistant["tool_calls"]
    ] == [
        ("toolu_1", {"city": "Paris"}),
        ("toolu_2", {"city": "Rome"}),
    ]
    assert chat["messages"][2:] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18 C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: service down"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Go on."},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ],
        },
    ]
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                "description": "Weather now",
            },
        }
    ]
    assert chat["tool_choice"] == "required" and chat["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "t"}, {"type": "function", "function": {"name": "t"}}),
    ],
)
def test_tool_choice(choice: JSON, expected: Any) -> None:
    chat = translate(tools=[{"name": "t", "input_schema": {"type": "object"}}], tool_choice=choice)
    assert chat["tool_choice"] == expected and "parallel_tool_calls" not in chat


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, "low"),
        ({"type": "enabled", "budget_tokens": 10000}, "medium"),
        ({"type": "enabled", "budget_tokens": 31999}, "high"),
        ({"type": "disabled"}, None),
    ],
)
def test_thinking_maps_to_reasoning_effort(thinking: JSON, effort: str | None) -> None:
    assert translate(thinking=thinking).get("reasoning_effort") == effort


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"model": ""}, "model"),
        ({"messages": []}, "messages"),
        ({"stream": "yes"}, "stream"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages.0.content.0"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0.type"),
        ({"tool_choice": {"type": "maybe"}, "tools": [{"name": "t"}]}, "tool_choice.type"),
    ],
)
def test_invalid_bodies_name_the_field(body: JSON, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate(**body)
    assert caught.value.param == param


def completion(message: JSON, finish: str, **usage: Any) -> JSON:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-x",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14, **usage},
    }


def test_answer_with_reasoning_text_and_tool_calls() -> None:
    message = to_message(
        completion(
            {
                "role": "assistant",
                "content": "Let me check.",
                "reasoning_content": "Hmm.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "a", "arguments": '{"x": 1}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "b", "arguments": "{}"},
                    },
                ],
            },
            "tool_calls",
            prompt_tokens_details={"cached_tokens": 6},
        ),
        "claude-sonnet-4-5",
        (),
    )
    assert message["id"].startswith("msg_") and message["type"] == "message"
    assert message["model"] == "claude-sonnet-4-5" and message["role"] == "assistant"
    assert message["content"] == [
        {"type": "thinking", "thinking": "Hmm.", "signature": ""},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_1", "name": "a", "input": {"x": 1}},
        {"type": "tool_use", "id": "call_2", "name": "b", "input": {}},
    ]
    assert message["stop_reason"] == "tool_use" and message["stop_sequence"] is None
    assert message["usage"] == {"input_tokens": 4, "output_tokens": 4, "cache_read_input_tokens": 6}


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal")],
)
def test_answer_stop_reasons(finish: str, reason: str) -> None:
    message = to_message(completion({"role": "assistant", "content": "a"}, finish), "m", ("X",))
    assert message["stop_reason"] == reason
    assert message["usage"] == {"input_tokens": 10, "output_tokens": 4}


def test_answer_keeps_signed_thinking_blocks() -> None:
    blocks = [
        {"type": "thinking", "thinking": "Hmm.", "signature": "c2ln"},
        {"type": "redacted_thinking", "data": "b3BhcXVl"},
    ]
    reply = {
        "role": "assistant",
        "content": "Yes.",
        "reasoning_content": "Hmm.",
        "thinking_blocks": blocks,
    }
    message = to_message(completion(reply, "stop"), "m", ())
    assert message["content"] == [*blocks, {"type": "text", "text": "Yes."}]
