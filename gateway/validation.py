"""Parse and check a client's JSON body before any upstream call.

Errors name the offending field path in ``param`` (``messages[2].role``) so a
client sees what to fix; unknown fields are left alone, because clients rely
on parameters newer than this gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.errors import InvalidRequest

JSON = dict[str, Any]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_RANGES: tuple[tuple[str, float, float | None, bool], ...] = (
    # field, minimum, maximum (None: unbounded), integer only
    ("temperature", 0.0, 2.0, False),
    ("top_p", 0.0, 1.0, False),
    ("n", 1, None, True),
    ("max_tokens", 1, None, True),
    ("max_completion_tokens", 1, None, True),
)


@dataclass(slots=True)  # not frozen: made per request; a frozen __init__ costs 2x
class ChatParams:
    """What routing and relaying need from a validated chat body."""

    model: str
    stream: bool
    include_usage: bool
    rewritten: bool = False
    """An integer was written as a whole float (``2.0``) and is now an int in the body:
    the client's bytes must not be passed through as they are."""


def invalid_value(message: str, param: str) -> InvalidRequest:
    """The 400 for a field with a wrong value; chat, Messages and Responses bodies share it."""
    return InvalidRequest(message, param=param, code="invalid_value")


def _model(body: JSON) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid_value("'model' must be a non-empty string.", "model")
    return model


def encode(body: JSON) -> bytes:
    """A body rewritten here, as bytes to relay: orjson, or json for integers past 64 bits."""
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson takes no integer past 64 bits; a client may send one
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def whole(value: Any) -> int | None:
    """An integer as JSON Schema counts them (``2`` or ``2.0``, never ``true``), else None."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def _number(body: JSON, name: str, low: float, high: float | None, integer: bool) -> bool:
    """Check ``body[name]``; True when a whole float was replaced by its int."""
    value = body.get(name)
    if value is None:
        return False
    number = whole(value) if integer else value
    if isinstance(number, bool) or not isinstance(number, int | float):
        noun = "an integer" if integer else "a number"
        raise invalid_value(f"'{name}' must be {noun}.", name)
    if number < low or (high is not None and number > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise invalid_value(f"'{name}' must be {bounds}.", name)
    if number is not value:
        body[name] = number
        return True
    return False


def _parts(content: list[Any], path: str) -> None:
    for j, part in enumerate(content):
        where = f"{path}[{j}]"
        if not isinstance(part, dict):
            raise invalid_value("A content part must be an object.", where)
        kind = part.get("type")
        if not isinstance(kind, str) or not kind:
            raise invalid_value("A content part needs a 'type'.", f"{where}.type")
        if kind == "text" and not isinstance(part.get("text"), str):
            raise invalid_value("A text part needs a string 'text'.", f"{where}.text")
        if kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise invalid_value("An image part needs 'image_url.url'.", f"{where}.image_url")


def _message(message: Any, i: int) -> None:
    path = f"messages[{i}]"
    if not isinstance(message, dict):
        raise invalid_value("Each message must be an object.", path)
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        allowed = ", ".join(sorted(ROLES))
        raise invalid_value(f"'role' must be one of {allowed}.", f"{path}.role")
    content = message.get("content")
    if content is None:
        if role == "assistant" and (message.get("tool_calls") or message.get("function_call")):
            pass
        elif role != "assistant":
            raise invalid_value(f"A {role} message needs 'content'.", f"{path}.content")
    elif isinstance(content, list):
        _parts(content, f"{path}.content")
    elif not isinstance(content, str):
        raise invalid_value("'content' must be a string or a list of parts.", f"{path}.content")
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise invalid_value("A tool message needs a string 'tool_call_id'.", f"{path}.tool_call_id")
    tool_calls = message.get("tool_calls")
    if tool_calls is not None:
        if not isinstance(tool_calls, list):
            raise invalid_value("'tool_calls' must be a list.", f"{path}.tool_calls")
        for k, call in enumerate(tool_calls):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise invalid_value(
                    "A tool call needs 'function.name'.", f"{path}.tool_calls[{k}].function"
                )


def validate_chat(body: JSON) -> ChatParams:
    """Check a chat completion body; InvalidRequest naming the first bad field."""
    model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_value("'messages' must be a non-empty list.", "messages")
    for i, message in enumerate(messages):
        _message(message, i)
    rewritten = False
    for name, low, high, integer in _RANGES:
        if name in body:  # most bodies set few of them: no call for the others
            rewritten |= _number(body, name, low, high, integer)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid_value("'stream' must be a boolean.", "stream")
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise invalid_value("'stream_options' must be an object.", "stream_options")
        flag = options.get("include_usage")
        if flag is not None and not isinstance(flag, bool):
            raise invalid_value(
                "'include_usage' must be a boolean.", "stream_options.include_usage"
            )
        include_usage = bool(flag)
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise invalid_value("'tools' must be a list.", "tools")
    return ChatParams(
        model=model, stream=bool(stream), include_usage=include_usage, rewritten=rewritten
    )


def _token(items: list[Any], j: int, param: str) -> bool:
    """Check the token id at ``items[j]``; True when a whole float was replaced by its int."""
    item = items[j]
    token = whole(item)
    if token is None:
        raise invalid_value("Each input must be a string or a list of tokens.", param)
    if token is item:
        return False
    items[j] = token
    return True


def validate_embeddings(body: JSON) -> tuple[str, bool]:
    """Check an embeddings body; the model, and whether a whole float became an int."""
    model = _model(body)
    data = body.get("input")
    if isinstance(data, str):
        if not data:
            raise invalid_value("'input' must not be empty.", "input")
        return model, False
    if not isinstance(data, list) or not data:
        raise invalid_value("'input' must be a string or a non-empty list.", "input")
    rewritten = False
    for i, item in enumerate(data):
        if isinstance(item, list):
            for j in range(len(item)):
                rewritten |= _token(item, j, f"input[{i}]")
        elif not isinstance(item, str):
            rewritten |= _token(data, i, f"input[{i}]")
    return model, rewritten
