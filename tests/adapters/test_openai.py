"""Golden tests for the OpenAI-compatible adapter: pass-through bytes, usage, models, errors."""

from __future__ import annotations

import orjson
import pytest

from gateway.adapters.base import StreamUsage, Target, TemplatePaths
from gateway.adapters.openai import OpenAIAdapter
from gateway.errors import UpstreamError
from tests.adapters.helpers import events_of, run_stream

ADAPTER = OpenAIAdapter()
TARGET = Target("p", "https://api.example.com/v1", {"Authorization": "Bearer sk-secret"})
AZURE = Target(
    "az",
    "https://res.openai.azure.com/openai",
    {"api-key": "azure-secret"},
    TemplatePaths(chat="/deployments/{deployment}/chat/completions"),
    {"api-version": "2024-10-21"},
)
RAW = b'{"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}], "new_param": {"x": 1}}'


def test_same_model_forwards_the_client_bytes_untouched() -> None:
    request = ADAPTER.build_chat(TARGET, orjson.loads(RAW), RAW, "gpt-x", stream=False)
    assert request.body is RAW
    assert request.url == "https://api.example.com/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-secret"
    assert request.headers["Content-Type"] == "application/json"
    assert "sk-secret" not in request.url


def test_other_model_rewrites_only_model_and_keeps_unknown_fields() -> None:
    request = ADAPTER.build_chat(TARGET, orjson.loads(RAW), RAW, "upstream-name", stream=True)
    assert request.body is not None
    sent = orjson.loads(request.body)
    assert sent == {**orjson.loads(RAW), "model": "upstream-name"}


def test_azure_is_data_only() -> None:
    request = ADAPTER.build_chat(AZURE, orjson.loads(RAW), RAW, "my-deploy", stream=False)
    assert (
        request.url == "https://res.openai.azure.com/openai/deployments/my-deploy/chat/completions"
    )
    assert request.params == {"api-version": "2024-10-21"}
    assert request.headers["api-key"] == "azure-secret"


def test_parse_chat_names_the_client_model_and_keeps_extras() -> None:
    payload = orjson.dumps(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 5,
            "model": "upstream-name",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "x", "reasoning_content": "r"},
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        }
    )
    answer = ADAPTER.parse_chat(payload, "client-name")
    assert answer["model"] == "client-name"
    assert answer["choices"][0]["message"]["reasoning_content"] == "r"


@pytest.mark.parametrize("payload", [b"{not json", b"[]", b'{"id": "x"}', b'{"choices": 3}'])
def test_parse_chat_rejects_malformed(payload: bytes) -> None:
    with pytest.raises(UpstreamError):
        ADAPTER.parse_chat(payload, "m")


async def test_stream_is_relayed_verbatim_and_usage_extracted() -> None:
    chunks = [
        b'{"id":"a","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}',
        b'{"id":"a","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]}}],"usage":null}',
        b'{"id":"a","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}',
        b"[DONE]",
        b'{"after":"done is ignored"}',
    ]
    out, usage = await run_stream(ADAPTER, chunks)
    assert out == b"".join(b"data: " + c + b"\n\n" for c in chunks[:3])
    assert usage == [StreamUsage(9, 4)]


async def test_stream_without_usage_records_nothing() -> None:
    out, usage = await run_stream(
        ADAPTER, [b'{"choices":[{"delta":{"content":"x"}}],"usage": null}']
    )
    assert usage == []
    assert events_of(out)[0]["choices"][0]["delta"]["content"] == "x"


def test_models_and_embeddings() -> None:
    request = ADAPTER.build_models(TARGET, None)
    assert (request.method, request.url) == ("GET", "https://api.example.com/v1/models")
    page = ADAPTER.parse_models(b'{"object":"list","data":[{"id":"a"},{"id":"b"},{"x":1}]}')
    assert page.ids == ["a", "b"] and page.next_cursor is None
    raw = b'{"model":"e","input":"hello"}'
    request = ADAPTER.build_embeddings(TARGET, orjson.loads(raw), raw, "e")
    assert request.url.endswith("/embeddings") and request.body is raw
    answer = ADAPTER.parse_embeddings(
        b'{"object":"list","data":[{"embedding":[1.0]}],"model":"u"}', "e", {"input": "hello"}
    )
    assert answer["model"] == "e"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"error":{"message":"Bad key","type":"invalid_request_error"}}', "Bad key"),
        (b'{"error":"plain text error"}', "plain text error"),
        (b'{"detail":"vLLM style"}', "vLLM style"),
        (b"<html>gateway timeout</html>", "upstream answered HTTP 504"),
    ],
)
def test_parse_error(payload: bytes, message: str) -> None:
    assert ADAPTER.parse_error(504, payload) == message
