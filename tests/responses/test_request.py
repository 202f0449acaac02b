"""Responses requests checked and translated to chat bodies (no HTTP: the rules themselves)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.errors import InvalidRequest
from gateway.responses.request import chat_body, parse_request


def translate(body: dict[str, Any], history: list[Any] | None = None) -> dict[str, Any]:
    request = parse_request(body, orjson.dumps(body))
    chat, raw, params = chat_body(request, history or [])
    assert orjson.loads(raw) == chat and params.model == body["model"] and params.include_usage
    return chat


def test_settings_map_to_their_chat_names() -> None:
    chat = translate(
        {
            "model": "m",
            "input": "hi",
            "instructions": "Be brief.",
            "max_output_tokens": 64,
            "temperature": 0.2,
            "top_p": 0.9,
            "user": "u1",
            "parallel_tool_calls": False,
            "tool_choice": {"type": "function", "name": "f"},
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "text": {"format": {"type": "json_object"}},
            "reasoning": {"effort": "low"},
            "stream": True,
        }
    )
    assert chat["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert chat["max_completion_tokens"] == 64 and chat["temperature"] == 0.2
    assert chat["top_p"] == 0.9 and chat["user"] == "u1" and chat["parallel_tool_calls"] is False
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    ]
    assert chat["response_format"] == {"type": "json_object"}
    assert chat["reasoning_effort"] == "low"
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}


def test_items_become_one_assistant_turn_with_its_calls() -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}
    chat = translate(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "look"}, image]},
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "hmm"}],
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Checking."}],
                },
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "one"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [{"type": "input_text", "text": "two"}],
                },
            ],
        }
    )
    user, assistant, first, second = chat["messages"]
    assert user["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"},
    }
    assert assistant["content"] == "Checking." and "reasoning_content" not in assistant
    assert [c["id"] for c in assistant["tool_calls"]] == ["c1", "c2"]
    assert (first["tool_call_id"], first["content"]) == ("c1", "one")
    assert (second["tool_call_id"], second["content"]) == ("c2", "two")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"role": {"no": 1}, "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"role": "user", "content": [{"type": ["x"]}]}]},
         "input[0].content[0].type"),
        ({"model": "m", "input": [{"role": "user", "content": [{"type": "audio"}]}]},
         "input[0].content[0].type"),
        ({"model": "m", "input": "x", "temperature": 3}, "temperature"),
        ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "m", "input": "x", "metadata": {"a": 1}}, "metadata"),
        ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"model": "m", "input": "x", "background": True}, "background"),
    ],
)  # fmt: skip
def test_bad_fields_are_named(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(body, b"")
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [{"type": "file_search"}]}, "tools[0].type"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tool_choice": ["auto"]}, "tool_choice"),
        ({"text": {"format": {"type": "xml"}}}, "text.format"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
         "input[0].content[0].image_url"),
    ],
)  # fmt: skip
def test_what_only_openai_has_is_refused_when_translating(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate({"model": "m", "input": "x", **body})
    assert caught.value.param == param
