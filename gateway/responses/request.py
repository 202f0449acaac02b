"""A Responses API request: checked field by field, and translated into a chat body.

Every error names the field in ``param`` (``input[2].content[0].type``), and
unknown item or part types answer 400, never 500. The chat body it builds goes
through the provider's adapter like any chat request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from gateway.adapters.base import JSON
from gateway.errors import InvalidRequest
from gateway.validation import ChatParams, encode, invalid_value, whole

FUNCTION_TOOL: Final = "function"
ROLES: Final = frozenset({"user", "assistant", "system", "developer"})
TOOL_CHOICES: Final = frozenset({"auto", "none", "required"})
_NUMBERS: Final = (("temperature", 0.0, 2.0), ("top_p", 0.0, 1.0))


@dataclass(slots=True)
class ResponsesRequest:
    """A checked request: what routing, storage and translation need."""

    body: JSON
    raw: bytes
    model: str
    stream: bool
    store: bool
    previous_response_id: str | None
    input: list[JSON]
    """This request's input as a list of items (a string input becomes one user message)."""


def parse_request(body: JSON, raw: bytes) -> ResponsesRequest:
    """Check a ``POST /v1/responses`` body; InvalidRequest naming the first bad field."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid_value("'model' must be a non-empty string.", "model")
    for name in ("stream", "store", "parallel_tool_calls", "background"):
        value = body.get(name)
        if value is not None and not isinstance(value, bool):
            raise invalid_value(f"'{name}' must be a boolean.", name)
    if body.get("background"):
        raise invalid_value("Background responses are not supported by this gateway.", "background")
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise invalid_value("'previous_response_id' must be a response id.", "previous_response_id")
    for name, low, high in _NUMBERS:
        _number(body.get(name), name, low, high)
    given = body.get("max_output_tokens")
    if given is not None:
        tokens = whole(given)
        if tokens is None or tokens < 1:
            raise invalid_value(
                "'max_output_tokens' must be a positive integer.", "max_output_tokens"
            )
        if tokens is not given:  # 2.0: the int it spells, in what is relayed too
            body["max_output_tokens"] = tokens
            raw = encode(body)
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str | list):
        raise invalid_value("'instructions' must be a string.", "instructions")
    metadata = body.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
    ):
        raise invalid_value("'metadata' must map strings to strings.", "metadata")
    include = body.get("include")
    if include is not None and not isinstance(include, list):
        raise invalid_value("'include' must be a list.", "include")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise invalid_value("'tools' must be a list.", "tools")
    for i, tool in enumerate(tools or ()):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise invalid_value("Each tool needs a 'type'.", f"tools[{i}].type")
        if tool["type"] == FUNCTION_TOOL and not isinstance(tool.get("name"), str):
            raise invalid_value("A function tool needs a 'name'.", f"tools[{i}].name")
    items = input_items(body.get("input"))
    return ResponsesRequest(
        body=body,
        raw=raw,
        model=model,
        stream=bool(body.get("stream")),
        store=body.get("store") is not False,
        previous_response_id=previous,
        input=items,
    )


def _number(value: Any, name: str, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_value(f"'{name}' must be a number.", name)
    if not low <= value <= high:
        raise invalid_value(f"'{name}' must be between {low:g} and {high:g}.", name)


# ------------------------------------------------------------------ input items


def input_items(value: Any) -> list[JSON]:
    """The request's ``input`` as checked items; a string is one user message."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise invalid_value("'input' must be a string or a list of items.", "input")
    items = []
    for i, item in enumerate(value):
        items.append(_item(item, f"input[{i}]"))
    return items


def _item(item: Any, param: str) -> JSON:
    if not isinstance(item, dict):
        raise invalid_value("Each input item must be an object.", param)
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        if not isinstance(role, str) or role not in ROLES:
            allowed = ", ".join(sorted(ROLES))
            raise invalid_value(f"'role' must be one of {allowed}.", f"{param}.role")
        content = item.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                _part(part, f"{param}.content[{j}]")
        elif not isinstance(content, str):
            raise invalid_value(
                "'content' must be a string or a list of parts.", f"{param}.content"
            )
        return {**item, "type": "message"}
    if kind == "function_call":
        for name in ("call_id", "name", "arguments"):
            if not isinstance(item.get(name), str):
                raise invalid_value(
                    f"A function_call item needs a string '{name}'.", f"{param}.{name}"
                )
        return item
    if kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise invalid_value("A function_call_output needs a 'call_id'.", f"{param}.call_id")
        output = item.get("output")
        if not isinstance(output, str | list):
            raise invalid_value("'output' must be a string or a list of parts.", f"{param}.output")
        return item
    if kind == "reasoning":
        if not isinstance(item.get("summary", []), list):
            raise invalid_value("'summary' must be a list.", f"{param}.summary")
        return item
    raise invalid_value(
        f"Input item type {kind!r} is not supported here "
        "(message, function_call, function_call_output, reasoning).",
        f"{param}.type",
    )


PART_TYPES: Final = frozenset({"input_text", "output_text", "refusal", "input_image", "input_file"})


def _part(part: Any, param: str) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    if not isinstance(kind, str) or kind not in PART_TYPES:
        raise invalid_value(f"Content part type {kind!r} is not supported.", f"{param}.type")
    if kind in ("input_text", "output_text") and not isinstance(part.get("text"), str):
        raise invalid_value("A text part needs a string 'text'.", f"{param}.text")


# ------------------------------------------------------------------ to chat


def chat_body(request: ResponsesRequest, history: list[JSON]) -> tuple[JSON, bytes, ChatParams]:
    """The chat request for a translated provider: ``history`` (stored context) then input."""
    body = request.body
    messages: list[JSON] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    elif isinstance(instructions, list):
        messages += _messages(input_items(instructions), "instructions")
    messages += _messages(history, "previous_response_id")
    messages += _messages(request.input, "input")
    if not messages:
        raise invalid_value("The request has no input.", "input")
    chat: JSON = {"model": request.model, "messages": messages}
    tools = [_tool(tool, i) for i, tool in enumerate(body.get("tools") or ())]
    if tools:
        chat["tools"] = tools
    choice = body.get("tool_choice")
    if choice is not None:
        chat["tool_choice"] = _tool_choice(choice)
    for name in ("parallel_tool_calls", "temperature", "top_p", "user"):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        chat["reasoning_effort"] = reasoning["effort"]
    elif reasoning is not None and not isinstance(reasoning, dict):
        raise invalid_value("'reasoning' must be an object.", "reasoning")
    if request.stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat, orjson.dumps(chat), ChatParams(request.model, request.stream, True)


def _tool(tool: JSON, i: int) -> JSON:
    if tool["type"] != FUNCTION_TOOL:
        raise InvalidRequest(
            f"The tool type '{tool['type']}' is built into OpenAI's API; "
            "this provider has no such tool.",
            param=f"tools[{i}].type",
            code="unsupported_tool",
        )
    function: JSON = {"name": tool["name"]}
    for name in ("description", "parameters", "strict"):
        if tool.get(name) is not None:
            function[name] = tool[name]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, str) and choice in TOOL_CHOICES:
        return choice
    if (
        isinstance(choice, dict)
        and choice.get("type") == FUNCTION_TOOL
        and isinstance(choice.get("name"), str)
    ):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise invalid_value(
        "'tool_choice' must be auto, none, required or a function by name.", "tool_choice"
    )


def _response_format(text: Any) -> JSON | None:
    if text is None:
        return None
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        assert isinstance(fmt, dict)
        if not isinstance(fmt.get("name"), str) or not isinstance(fmt.get("schema"), dict):
            raise invalid_value("A json_schema format needs 'name' and 'schema'.", "text.format")
        spec = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": spec}
    raise invalid_value(
        "'text.format.type' must be text, json_object or json_schema.", "text.format"
    )


def _messages(items: list[JSON], where: str) -> list[JSON]:
    """Items -> chat messages; function calls join the assistant turn they belong to.

    Reasoning items are accepted and left out: chat upstreams take no reasoning back
    (some refuse it), and a summary cannot stand in for a provider's signed thinking.
    """
    out: list[JSON] = []
    for i, item in enumerate(items):
        kind = item.get("type", "message")
        param = f"{where}[{i}]"
        if kind == "message":
            out.append(_message(item, param))
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item["output"]
            content = output if isinstance(output, str) else _text_parts(output, param)
            out.append({"role": "tool", "tool_call_id": item["call_id"], "content": content})
    return out


def _message(item: JSON, param: str) -> JSON:
    role = item["role"]
    content = item["content"]
    if isinstance(content, str):
        return {"role": role, "content": content}
    if role != "user":
        return {"role": role, "content": _text_parts(content, f"{param}.content")}
    parts = [_chat_part(part, f"{param}.content[{j}]") for j, part in enumerate(content)]
    return {"role": role, "content": parts}


def _text_parts(parts: list[Any], param: str) -> str:
    texts = []
    for j, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text"):
            texts.append(str(part.get("text", "")))
        elif kind == "refusal":
            texts.append(str(part.get("refusal", "")))
        else:
            raise invalid_value("Only text parts are allowed here.", f"{param}[{j}].type")
    return "".join(texts)


def _chat_part(part: JSON, param: str) -> JSON:
    kind = part["type"]
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal", ""))}
    if kind == "input_image":
        image = _carried(
            part,
            "image_url",
            "url",
            "detail",
            "An input_image needs an 'image_url' (a URL or data URL); "
            "file_id needs OpenAI's file storage.",
            param,
        )
        return {"type": "image_url", "image_url": image}
    file = _carried(
        part,
        "file_data",
        "file_data",
        "filename",
        "An input_file needs 'file_data' here; file_id and file_url need OpenAI's file storage.",
        param,
    )
    return {"type": "file", "file": file}


def _carried(part: JSON, field: str, key: str, extra: str, message: str, param: str) -> JSON:
    """``part[field]`` (a non-empty string, else 400) as ``{key: ...}``; ``extra`` if a string."""
    value = part.get(field)
    if not isinstance(value, str) or not value:
        raise invalid_value(message, f"{param}.{field}")
    carried: JSON = {key: value}
    if isinstance(part.get(extra), str):
        carried[extra] = part[extra]
    return carried
