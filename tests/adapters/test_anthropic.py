"""Golden tests for the Anthropic Messages adapter: request, response, stream, models."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.adapters.anthropic import AnthropicAdapter
from gateway.adapters.base import StreamUsage, Target, TemplatePaths
from gateway.errors import InvalidRequest, UpstreamError
from tests.adapters.helpers import assemble, events_of, run_stream

ADAPTER = AnthropicAdapter()
TARGET = Target(
    "claude",
    "https://api.anthropic.com/v1",
    {"x-api-key": "sk-ant-secret", "anthropic-version": "2023-06-01"},
    TemplatePaths(chat="/messages"),
)

CHAT: dict[str, Any] = {
    "model": "claude-x",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is here?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"q":"a"}'},
                },
                {"id": "call_2", "type": "function", "function": {"name": "look", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "a hat"}]},
        {"role": "user", "content": "Thanks"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "look", "description": "Look", "parameters": {"type": "object"}},
        }
    ],
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "max_completion_tokens": 300,
    "stop": "END",
    "temperature": 1.5,
    "top_p": 0.9,
    "n": 1,
    "frequency_penalty": 0.5,
    "logprobs": True,
    "response_format": {"type": "json_object"},
    "stream_options": {"include_usage": True},
    "user": "u-1",
}

EXPECTED: dict[str, Any] = {
    "model": "claude-upstream",
    "system": "Be brief.\n\nUse tools.",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is here?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "look", "input": {"q": "a"}},
                {"type": "tool_use", "id": "call_2", "name": "look", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "a cat"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "a hat"}],
                },
            ],
        },
        {"role": "user", "content": "Thanks"},
    ],
    "max_tokens": 300,
    "temperature": 1.0,
    "top_p": 0.9,
    "stop_sequences": ["END"],
    "metadata": {"user_id": "u-1"},
    "tools": [
        {"name": "look", "description": "Look", "input_schema": {"type": "object"}},
        {
            "name": "json_response",
            "description": "Give the final answer (json_object) as this tool's input.",
            "input_schema": {"type": "object"},
        },
    ],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "stream": True,
}


def build(body: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    request = ADAPTER.build_chat(TARGET, body, orjson.dumps(body), "claude-upstream", stream)
    assert request.body is not None
    return dict(orjson.loads(request.body))


def test_request_golden() -> None:
    request = ADAPTER.build_chat(TARGET, CHAT, b"", "claude-upstream", stream=True)
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-secret"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "secret" not in request.url
    assert request.body is not None
    assert orjson.loads(request.body) == EXPECTED


def test_max_tokens_defaults_and_max_tokens_honoured() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert build(body)["max_tokens"] == 4096
    assert build({**body, "max_tokens": 12})["max_tokens"] == 12
    assert "stream" not in build(body)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ({"type": "function", "function": {"name": "look"}}, {"type": "tool", "name": "look"}),
        (None, None),
    ],
)
def test_tool_choice_mapping(choice: Any, expected: Any) -> None:
    body = {**CHAT, "tool_choice": choice}
    del body["parallel_tool_calls"], body["response_format"]
    assert build(body).get("tool_choice") == expected


def test_n_above_one_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        build({**CHAT, "n": 2})
    assert caught.value.param == "n"


def test_bad_tool_arguments_name_the_field() -> None:
    messages = [
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{x"}}],
        }
    ]
    with pytest.raises(InvalidRequest) as caught:
        build({"model": "m", "messages": messages})
    assert caught.value.param == "messages[0].tool_calls[0].function.arguments"


def test_response_golden_with_thinking_and_tool_calls() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-upstream",
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "s"},
            {"type": "text", "text": "Calling."},
            {"type": "tool_use", "id": "toolu_1", "name": "look", "input": {"q": "a"}},
            {"type": "tool_use", "id": "toolu_2", "name": "find", "input": {}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 8},
    }
    answer = ADAPTER.parse_chat(orjson.dumps(message), "client-model")
    assert {"id", "object", "created", "model", "choices", "usage"} <= answer.keys()
    assert answer["object"] == "chat.completion" and answer["model"] == "client-model"
    assert answer["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Calling.",
                "reasoning_content": "Let me think.",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "Let me think.", "signature": "s"}
                ],
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "look", "arguments": '{"q":"a"}'},
                    },
                    {
                        "id": "toolu_2",
                        "type": "function",
                        "function": {"name": "find", "arguments": "{}"},
                    },
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]
    assert answer["usage"] == {
        "prompt_tokens": 15,
        "completion_tokens": 8,
        "total_tokens": 23,
        "prompt_tokens_details": {"cached_tokens": 5},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
    ],
)
def test_finish_reason_mapping(stop_reason: str, finish: str) -> None:
    message = {
        "id": "m",
        "content": [{"type": "text", "text": "x"}],
        "stop_reason": stop_reason,
        "usage": {},
    }
    assert ADAPTER.parse_chat(orjson.dumps(message), "m")["choices"][0]["finish_reason"] == finish


@pytest.mark.parametrize("payload", [b"nope", b'{"type":"message"}', b"[1]"])
def test_malformed_response(payload: bytes) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_chat(payload, "m")


def ev(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)


STREAM = [
    ev(
        {
            "type": "message_start",
            "message": {"id": "msg_s", "usage": {"input_tokens": 20, "output_tokens": 1}},
        }
    ),
    ev({"type": "ping"}),
    ev(
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        }
    ),
    ev(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Hmm"},
        }
    ),
    ev(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "x"},
        }
    ),
    ev({"type": "content_block_stop", "index": 0}),
    ev({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
    ev(
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": "Two calls"},
        }
    ),
    ev({"type": "content_block_stop", "index": 1}),
    ev(
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "tu_a", "name": "a", "input": {}},
        }
    ),
    ev(
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {"type": "tool_use", "id": "tu_b", "name": "b", "input": {}},
        }
    ),
    # Fragments arrive out of block order: they must follow the block index.
    ev(
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": '{"y":'},
        }
    ),
    ev(
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"x":1}'},
        }
    ),
    ev(
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": "2}"},
        }
    ),
    ev({"type": "content_block_stop", "index": 2}),
    ev({"type": "content_block_stop", "index": 3}),
    ev(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 30},
        }
    ),
    ev({"type": "message_stop"}),
]


async def test_stream_golden() -> None:
    out, usage = await run_stream(ADAPTER, STREAM)
    chunks = events_of(out)
    assert all(c["id"] == "msg_s" and c["model"] == "client-model" for c in chunks)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["delta"] == {"reasoning_content": "Hmm"}
    assert chunks[2]["choices"][0]["delta"] == {
        "thinking_blocks": [{"type": "thinking", "thinking": "Hmm", "signature": "x"}]
    }
    openings = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[4:6]]
    assert openings == [
        {"index": 0, "id": "tu_a", "type": "function", "function": {"name": "a", "arguments": ""}},
        {"index": 1, "id": "tu_b", "type": "function", "function": {"name": "b", "arguments": ""}},
    ]
    message = assemble(chunks)
    assert message == {
        "content": "Two calls",
        "reasoning": "Hmm",
        "tool_calls": [
            {"id": "tu_a", "name": "a", "arguments": '{"x":1}'},
            {"id": "tu_b", "name": "b", "arguments": '{"y":2}'},
        ],
        "finish_reason": "tool_calls",
    }
    # Usage: prompt and completion together in one last chunk without choices.
    usage_chunks = [c for c in chunks if c.get("usage")]
    assert usage_chunks == [chunks[-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 20,
        "completion_tokens": 30,
        "total_tokens": 50,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert usage[-1] == StreamUsage(20, 30)


async def test_stream_without_include_usage_still_counts() -> None:
    out, usage = await run_stream(ADAPTER, STREAM, include_usage=False)
    assert not any(c.get("usage") for c in events_of(out))
    assert usage[-1] == StreamUsage(20, 30)


async def test_stream_error_event_becomes_openai_error() -> None:
    error = ev({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    out, usage = await run_stream(ADAPTER, [*STREAM[:8], error, *STREAM[8:]])
    events = events_of(out)
    assert events[-1] == {
        "error": {
            "message": "Overloaded",
            "type": "upstream_error",
            "param": None,
            "code": "overloaded_error",
        }
    }
    assert "tool_calls" not in str(events)
    assert usage == [StreamUsage(20, 1)]


async def test_stream_malformed_event_raises() -> None:
    with pytest.raises(UpstreamError):
        await run_stream(ADAPTER, [STREAM[0], b"{broken"])


def test_models_pagination() -> None:
    first = ADAPTER.build_models(TARGET, None)
    assert first.url == "https://api.anthropic.com/v1/models"
    assert "after_id" not in first.params
    assert ADAPTER.build_models(TARGET, "m2").params["after_id"] == "m2"
    page = ADAPTER.parse_models(
        b'{"data":[{"id":"m1"},{"id":"m2"}],"has_more":true,"last_id":"m2"}'
    )
    assert page.ids == ["m1", "m2"] and page.next_cursor == "m2"
    last = ADAPTER.parse_models(b'{"data":[{"id":"m3"}],"has_more":false,"last_id":"m3"}')
    assert last.next_cursor is None


def test_parse_error() -> None:
    body = b'{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: x"}}'
    assert ADAPTER.parse_error(400, body) == "max_tokens: x"


def test_empty_assistant_turn_is_skipped() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "b"},
        ]
    }
    assert [m["content"] for m in build(body)["messages"]] == ["a", "b"]
