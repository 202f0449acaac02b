"""docs/parameters.md against the adapters: a row per CreateChatCompletionRequest parameter,
and each cell's rule (mapped / dropped / refused) is what the adapter really does."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.adapters import create_adapters
from gateway.adapters.base import Target, TemplatePaths
from gateway.errors import InvalidRequest
from gateway.providers.templates import parse_template
from tests.openai_schema import component

DOC = Path(__file__).parents[2] / "docs" / "parameters.md"
TEMPLATES = Path(__file__).parents[2] / "gateway" / "templates"
ADAPTERS = create_adapters()
MODELS = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
BASE: dict[str, Any] = {"model": "client-model", "messages": [{"role": "user", "content": "hi"}]}
SAMPLES: dict[str, Any] = {
    "audio": {"voice": "alloy", "format": "wav"},
    "frequency_penalty": 0.5,
    "function_call": "auto",
    "functions": [{"name": "f", "parameters": {"type": "object"}}],
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "max_completion_tokens": 100,
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hello"}],
    "metadata": {"team": "a"},
    "modalities": ["text", "audio"],
    "model": "other-model",
    "moderation": {"model": "omni-moderation-latest"},
    "n": 2,
    "parallel_tool_calls": False,
    "prediction": {"type": "content", "content": "x"},
    "presence_penalty": 0.5,
    "prompt_cache_key": "k",
    "prompt_cache_options": {"ttl": "1h"},
    "prompt_cache_retention": "24h",
    "reasoning_effort": "low",
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "s", "schema": {"type": "object"}},
    },
    "safety_identifier": "u-1",
    "seed": 7,
    "service_tier": "flex",
    "stop": ["END"],
    "store": True,
    "stream": True,
    "stream_options": {"include_usage": True},
    "temperature": 0.5,
    "tool_choice": "required",
    "tools": TOOLS,
    "top_logprobs": 3,
    "top_p": 0.5,
    "user": "u-1",
    "verbosity": "low",
    "web_search_options": {},
}
COMPANIONS: dict[str, dict[str, Any]] = {
    "tool_choice": {"tools": TOOLS},
    "parallel_tool_calls": {"tools": TOOLS},
    "top_logprobs": {"logprobs": True},
}
"""Parameters that only mean something next to another: both bodies carry the companion."""
GATEWAY_HANDLED = frozenset({"model", "stream_options"})
"""Honoured by the gateway itself (routing; include_usage): tested with routes and streams."""


def schema_parameters() -> set[str]:
    found: set[str] = set()

    def collect(schema: dict[str, Any]) -> None:
        if "$ref" in schema:
            collect(component(schema["$ref"].rsplit("/", 1)[-1]))
        found.update(schema.get("properties", {}))
        for part in schema.get("allOf", ()):
            collect(part)

    collect(component("CreateChatCompletionRequest"))
    return found


def table() -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:1] == ["parameter"]:
            header = cells[1:]
        elif header and (match := re.fullmatch(r"`(\w+)`", cells[0])):
            rows[match.group(1)] = {
                name: cell.split(":")[0].split()[0]
                for name, cell in zip(header, cells[1:], strict=True)
            }
    return rows


@functools.cache
def target(adapter: str) -> Target:
    template = parse_template(adapter, (TEMPLATES / f"{adapter}.yaml").read_text())
    families = tuple(f.to_family() for f in template.families)
    return Target("p", "https://upstream.example/v1", {}, TemplatePaths(), families=families)


def outcome(adapter: str, name: str) -> str:
    base = {**BASE, **COMPANIONS.get(name, {})}
    changed = {**base, name: SAMPLES[name]}

    def sent(body: dict[str, Any]) -> tuple[str, Any, Any]:
        request = ADAPTERS[adapter].build_chat(
            target(adapter), body, orjson.dumps(body), MODELS[adapter], bool(body.get("stream"))
        )
        return request.url, dict(request.params), orjson.loads(request.body or b"null")

    before = sent(base)
    try:
        after = sent(changed)
    except InvalidRequest as exc:
        assert exc.param is not None and exc.param.startswith(name), (name, exc.param)
        return "refused"
    return "dropped" if after == before else "mapped"


def test_every_schema_parameter_has_a_row() -> None:
    assert set(table()) == schema_parameters() == set(SAMPLES)


@pytest.mark.parametrize("adapter", sorted(MODELS))
def test_each_rule_is_what_the_adapter_does(adapter: str) -> None:
    wrong = {}
    for name, rules in sorted(table().items()):
        if name in GATEWAY_HANDLED:
            assert rules[adapter] == "mapped"
            continue
        actual = outcome(adapter, name)
        if actual != rules[adapter]:
            wrong[name] = f"docs say {rules[adapter]}, the adapter {actual}"
    assert not wrong, wrong
