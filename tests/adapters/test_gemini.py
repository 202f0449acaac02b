"""Golden tests for the Gemini adapter: request, response, stream, models, embeddings."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.adapters.base import StreamUsage, Target, TemplatePaths
from gateway.adapters.gemini import GeminiAdapter
from gateway.errors import InvalidRequest, UpstreamError
from tests.adapters.helpers import assemble, events_of, run_stream

ADAPTER = GeminiAdapter()
KEY = "AIza-secret-key"
TARGET = Target(
    "gem",
    "https://generativelanguage.googleapis.com/v1beta",
    {"x-goog-api-key": KEY},
    TemplatePaths(chat="/models/{model}:generateContent"),
)

CHAT: dict[str, Any] = {
    "model": "gemini-x",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                {"type": "image_url", "image_url": "https://example.com/a.png"},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_2", "content": "12:00"},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
        {"role": "assistant", "content": "Sunny, noon."},
        {"role": "user", "content": "Thanks"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "weather", "description": "W", "parameters": {"type": "object"}},
        },
        {"type": "function", "function": {"name": "time"}},
    ],
    "tool_choice": {"type": "function", "function": {"name": "weather"}},
    "temperature": 0.2,
    "top_p": 0.5,
    "max_tokens": 100,
    "stop": ["X", "Y"],
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "s", "schema": {"type": "object"}},
    },
    "logit_bias": {"1": 2},
}

EXPECTED: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": "Look"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/a.png"}},
            ],
        },
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "time", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "time", "response": {"content": "12:00"}}},
                {"functionResponse": {"name": "weather", "response": {"temp": 21}}},
            ],
        },
        {"role": "model", "parts": [{"text": "Sunny, noon."}]},
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ],
    "generationConfig": {
        "temperature": 0.2,
        "topP": 0.5,
        "maxOutputTokens": 100,
        "stopSequences": ["X", "Y"],
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
    },
    "tools": [
        {
            "functionDeclarations": [
                {"name": "weather", "description": "W", "parametersJsonSchema": {"type": "object"}},
                {"name": "time"},
            ]
        }
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}},
}


def test_request_golden() -> None:
    request = ADAPTER.build_chat(TARGET, CHAT, b"", "gemini-upstream", stream=False)
    assert (
        request.url
        == "https://generativelanguage.googleapis.com/v1beta/models/gemini-upstream:generateContent"
    )
    assert request.body is not None
    assert orjson.loads(request.body) == EXPECTED
    assert request.headers["x-goog-api-key"] == KEY


def test_stream_url_and_no_key_in_any_url() -> None:
    stream = ADAPTER.build_chat(TARGET, CHAT, b"", "models/gemini-upstream", stream=True)
    assert stream.url.endswith("/models/gemini-upstream:streamGenerateContent")
    assert stream.params == {"alt": "sse"}
    requests = [
        stream,
        ADAPTER.build_chat(TARGET, CHAT, b"", "g", stream=False),
        ADAPTER.build_models(TARGET, "tok"),
        ADAPTER.build_embeddings(TARGET, {"input": "x"}, b"", "e"),
    ]
    for request in requests:
        assert KEY not in request.url and KEY not in str(request.params)
        assert "key" not in request.params
        assert request.headers["x-goog-api-key"] == KEY


@pytest.mark.parametrize(
    ("choice", "mode"), [("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")]
)
def test_tool_choice_modes(choice: str, mode: str) -> None:
    request = ADAPTER.build_chat(TARGET, {**CHAT, "tool_choice": choice}, b"", "g", stream=False)
    assert request.body is not None
    assert orjson.loads(request.body)["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_json_object_format() -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_object"},
    }
    request = ADAPTER.build_chat(TARGET, body, b"", "g", stream=False)
    assert request.body is not None
    assert orjson.loads(request.body)["generationConfig"] == {
        "responseMimeType": "application/json"
    }


def test_tool_message_with_unknown_call_id_is_refused() -> None:
    body = {"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}
    with pytest.raises(InvalidRequest) as caught:
        ADAPTER.build_chat(TARGET, body, b"", "g", stream=False)
    assert caught.value.param == "messages[0].tool_call_id"


def test_response_golden_calls_get_ids_and_string_arguments() -> None:
    answer = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "thinking...", "thought": True},
                        {"text": "Calling."},
                        {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
                        {"functionCall": {"name": "time", "args": {}}},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 3,
            "totalTokenCount": 18,
        },
        "responseId": "r1",
    }
    result = ADAPTER.parse_chat(orjson.dumps(answer), "client-model")
    assert {"id", "object", "created", "model", "choices", "usage"} <= result.keys()
    assert result["model"] == "client-model" and result["id"] == "chatcmpl-r1"
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == "Calling." and message["reasoning_content"] == "thinking..."
    calls = message["tool_calls"]
    assert [c["function"] for c in calls] == [
        {"name": "weather", "arguments": '{"city":"Paris"}'},
        {"name": "time", "arguments": "{}"},
    ]
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    assert calls[0]["id"] != calls[1]["id"]
    assert result["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 8,
        "total_tokens": 18,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
    ],
)
def test_finish_reason_mapping(reason: str, finish: str) -> None:
    answer = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}]}
    assert ADAPTER.parse_chat(orjson.dumps(answer), "m")["choices"][0]["finish_reason"] == finish


def test_blocked_prompt_is_content_filter() -> None:
    answer = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}
    choice = ADAPTER.parse_chat(orjson.dumps(answer), "m")["choices"][0]
    assert choice["finish_reason"] == "content_filter" and choice["message"]["content"] is None
    assert "SAFETY" in choice["message"]["refusal"]


@pytest.mark.parametrize("payload", [b"{", b'{"candidates": 1}', b"{}"])
def test_malformed_response(payload: bytes) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_chat(payload, "m")


def answer(
    parts: list[dict[str, Any]], finish: str | None = None, usage: dict[str, int] | None = None
) -> bytes:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if finish:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "responseId": "r"}
    if usage:
        body["usageMetadata"] = usage
    return orjson.dumps(body)


STREAM = [
    answer([{"text": "Let me see", "thought": True}], usage={"promptTokenCount": 7}),
    answer([{"text": "Calling "}], usage={"promptTokenCount": 7}),
    answer(
        [
            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "time", "args": {"tz": "CET"}}},
        ],
        finish="STOP",
        usage={"promptTokenCount": 7, "candidatesTokenCount": 9, "totalTokenCount": 16},
    ),
]


async def test_stream_golden_whole_calls_get_index_and_id() -> None:
    out, usage = await run_stream(ADAPTER, STREAM)
    chunks = events_of(out)
    assert all(c["model"] == "client-model" and c["id"] == "chatcmpl-r" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert [d["index"] for d in deltas] == [0, 1]
    assert all(d["id"].startswith("call_") for d in deltas) and deltas[0]["id"] != deltas[1]["id"]
    assert assemble(chunks) == {
        "content": "Calling ",
        "reasoning": "Let me see",
        "tool_calls": [
            {"id": deltas[0]["id"], "name": "weather", "arguments": '{"city":"Paris"}'},
            {"id": deltas[1]["id"], "name": "time", "arguments": '{"tz":"CET"}'},
        ],
        "finish_reason": "tool_calls",
    }
    assert [c for c in chunks if c.get("usage")] == [chunks[-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 9,
        "total_tokens": 16,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert usage[-1] == StreamUsage(7, 9)


async def test_stream_error_payload() -> None:
    error = orjson.dumps({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
    out, _ = await run_stream(ADAPTER, [STREAM[0], error, STREAM[1]])
    events = events_of(out)
    assert events[-1]["error"]["message"] == "overloaded"
    assert events[-1]["error"]["code"] == "UNAVAILABLE"
    assert "Calling" not in out.decode()


def test_models_filter_and_pagination() -> None:
    request = ADAPTER.build_models(TARGET, "next-1")
    assert request.url.endswith("/v1beta/models") and request.params["pageToken"] == "next-1"
    listing = {
        "models": [
            {
                "name": "models/gemini-a",
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            },
            {"name": "models/embed-b", "supportedGenerationMethods": ["embedContent"]},
        ],
        "nextPageToken": "tok2",
    }
    page = ADAPTER.parse_models(orjson.dumps(listing))
    assert page.ids == ["gemini-a", "embed-b"] and page.next_cursor == "tok2"
    assert ADAPTER.parse_models(b'{"models": []}').next_cursor is None


def test_embeddings() -> None:
    request = ADAPTER.build_embeddings(
        TARGET, {"input": ["a", "b"], "dimensions": 8}, b"", "embed-b"
    )
    assert request.url.endswith("/models/embed-b:batchEmbedContents")
    assert request.body is not None
    assert orjson.loads(request.body) == {
        "requests": [
            {
                "model": "models/embed-b",
                "content": {"parts": [{"text": "a"}]},
                "outputDimensionality": 8,
            },
            {
                "model": "models/embed-b",
                "content": {"parts": [{"text": "b"}]},
                "outputDimensionality": 8,
            },
        ]
    }
    result = ADAPTER.parse_embeddings(
        b'{"embeddings":[{"values":[1.0]},{"values":[2.0]}]}', "e", {"input": ["a", "bbbbb"]}
    )
    assert result["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert [d["embedding"] for d in result["data"]] == [[1.0], [2.0]]
    assert result["model"] == "e" and result["object"] == "list"


def test_parse_error() -> None:
    body = b'{"error":{"code":400,"message":"API key not valid","status":"INVALID_ARGUMENT"}}'
    assert ADAPTER.parse_error(400, body) == "API key not valid"


def test_thought_signature_round_trips_through_the_tool_call() -> None:
    part = {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}
    answer = {"candidates": [{"content": {"parts": [part]}, "finishReason": "STOP"}]}
    call = ADAPTER.parse_chat(orjson.dumps(answer), "m")["choices"][0]["message"]["tool_calls"][0]
    assert call["extra_content"] == {"google": {"thought_signature": "c2ln"}}
    body = {
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "done"},
        ]
    }
    request = ADAPTER.build_chat(TARGET, body, b"", "g", stream=False)
    assert request.body is not None
    sent = orjson.loads(request.body)["contents"]
    assert sent[1]["parts"] == [
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}
    ]
    assert sent[2]["parts"][0]["functionResponse"]["name"] == "f"
