"""The translating adapters (Anthropic, Gemini) refuse what they cannot translate, by param."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.adapters.anthropic import AnthropicAdapter
from gateway.adapters.base import Adapter, Target, TemplatePaths
from gateway.adapters.gemini import GeminiAdapter
from gateway.errors import InvalidRequest

TARGET = Target("p", "https://upstream.example/v1", {}, TemplatePaths(chat="/chat"))
ADAPTERS = [AnthropicAdapter(), GeminiAdapter()]


def refused(adapter: Adapter, **body: Any) -> InvalidRequest:
    body = {"model": "m", "max_tokens": 5, **body}
    with pytest.raises(InvalidRequest) as caught:
        adapter.build_chat(TARGET, body, orjson.dumps(body), "m", False)
    return caught.value


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
def test_an_untranslatable_content_part_is_named(adapter: Adapter) -> None:
    parts = [{"type": "text", "text": "hi"}, {"type": "input_audio", "input_audio": {}}]
    error = refused(adapter, messages=[{"role": "user", "content": parts}])
    assert error.param == "messages[0].content[1].type"
    assert "'input_audio' is not supported" in error.message


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
def test_a_tool_other_than_a_function_is_named(adapter: Adapter) -> None:
    tools = [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
        {"type": "web_search"},
    ]
    error = refused(adapter, messages=[{"role": "user", "content": "hi"}], tools=tools)
    assert error.param == "tools[1].type"
