"""The schema helper itself: it accepts OpenAI's own answers and names what is missing."""

from __future__ import annotations

import pytest

from tests.openai_schema import assert_chat_stream_valid, schema_names, violations

ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


def test_a_valid_answer_passes_and_a_missing_field_is_named() -> None:
    assert violations("CreateChatCompletionResponse", ANSWER) == []
    broken = {**ANSWER, "choices": [{**ANSWER["choices"][0]}]}
    del broken["choices"][0]["logprobs"]
    assert any(
        "'logprobs' is a required property" in v
        for v in violations("CreateChatCompletionResponse", broken)
    )


def test_nullable_and_recursive_schemas_load() -> None:
    assert {"Response", "ResponseStreamEvent", "CreateChatCompletionRequest"} <= set(schema_names())
    assert (
        violations(
            "CompoundFilter",
            {
                "type": "and",
                "filters": [{"type": "or", "filters": [{"type": "eq", "key": "a", "value": 1}]}],
            },
        )
        == []
    )
    with pytest.raises(KeyError):
        violations("NoSuchSchema", {})


def test_stream_checks_order() -> None:
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    finish = {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    late = {**head, "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}]}
    error = {"error": {"message": "boom", "type": "upstream_error", "param": None, "code": None}}
    assert_chat_stream_valid([finish, error])
    with pytest.raises(AssertionError, match="after its finish_reason"):
        assert_chat_stream_valid([finish, late])
    with pytest.raises(AssertionError, match="must end the stream"):
        assert_chat_stream_valid([error, finish])
