"""Validate gateway answers against OpenAI's published schemas (vendored in tests/schemas/).

``violations("CreateChatCompletionResponse", answer)`` lists what is wrong (empty
when valid); ``assert_valid`` fails a test with that list; ``assert_chat_stream_valid``
checks every event of an SSE body (chunks, and the error event that may end it).
Any component schema in tests/schemas/openai.json can be named; add roots in
tests/schemas/vendor.py and rerun it to copy more.

The source is OpenAPI 3.1 with two older-draft leftovers, read here as their
authors meant: ``nullable: true`` also admits null, and ``$recursiveRef: "#"``
points at the schema that carries ``$recursiveAnchor``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gateway.adapters.sse import DONE, SSEDecoder

SCHEMAS_FILE = Path(__file__).parent / "schemas" / "openai.json"
BASE_URI = "urn:openai-openapi"


def _modernize(node: Any, anchor: str | None = None) -> Any:
    """``nullable`` -> a null alternative; ``$recursiveRef`` -> a plain ``$ref``."""
    if isinstance(node, list):
        return [_modernize(item, anchor) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _modernize(value, anchor) for key, value in node.items() if key != "nullable"}
    if out.pop("$recursiveRef", None) is not None and anchor is not None:
        out["$ref"] = anchor
    out.pop("$recursiveAnchor", None)
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(SCHEMAS_FILE.read_bytes())
    schemas = {
        name: _modernize(
            schema,
            f"{BASE_URI}#/components/schemas/{name}" if schema.get("$recursiveAnchor") else None,
        )
        for name, schema in document["components"]["schemas"].items()
    }
    return {"components": {"schemas": schemas}}


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    document = _document()
    if name not in document["components"]["schemas"]:
        raise KeyError(f"{name} is not vendored; add it to ROOTS in tests/schemas/vendor.py")
    registry: Registry[Any] = Registry().with_resource(
        BASE_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schema = {"$ref": f"{BASE_URI}#/components/schemas/{name}"}
    return Draft202012Validator(schema, registry=registry)


def schema_names() -> list[str]:
    """Every component schema that can be validated against."""
    return sorted(_document()["components"]["schemas"])


def component(name: str) -> dict[str, Any]:
    """One component schema as vendored (after the two readings above)."""
    schema: dict[str, Any] = _document()["components"]["schemas"][name]
    return schema


def violations(name: str, instance: Any) -> list[str]:
    """What is wrong with ``instance`` as an OpenAI ``name`` object (empty when valid)."""
    return [
        f"{name} at /{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in _validator(name).iter_errors(instance)
    ]


def assert_valid(name: str, instance: Any) -> None:
    problems = violations(name, instance)
    assert not problems, "\n".join(problems)


def sse_payloads(body: bytes) -> list[Any]:
    """Every ``data:`` payload of an SSE body, decoded, up to ``[DONE]``."""
    out = []
    for payload in SSEDecoder().feed(body):
        if payload == DONE:
            break
        out.append(orjson.loads(payload))
    return out


def assert_chat_stream_valid(body: bytes | list[Any]) -> list[Any]:
    """Each event a chat.completion.chunk, or an error event (then it must be the last).

    No content may follow a choice's finish_reason. Returns the decoded events.
    """
    events = sse_payloads(body) if isinstance(body, bytes) else body
    problems: list[str] = []
    finished: set[int] = set()
    for n, event in enumerate(events):
        if isinstance(event, dict) and "error" in event:
            problems += violations("ErrorResponse", event)
            if n != len(events) - 1:
                problems.append(f"event {n}: an error event must end the stream")
            continue
        problems += [
            f"event {n}: {p}" for p in violations("CreateChatCompletionStreamResponse", event)
        ]
        for choice in event.get("choices") or ():
            index = choice.get("index")
            delta = choice.get("delta") or {}
            if index in finished and any(delta.get(k) for k in delta if k != "role"):
                problems.append(f"event {n}: content for choice {index} after its finish_reason")
            if choice.get("finish_reason"):
                finished.add(index)
    assert not problems, "\n".join(problems)
    return events
