"""A Messages request checked, and translated to a chat body for providers that need one.

``params`` checks only what routing and relaying need (model, max_tokens,
messages, stream), so an Anthropic provider gets the client's body as it is
and judges the rest itself. ``to_chat`` translates the whole body:

- ``system`` (a string or text blocks) -> one system message.
- user blocks: text; image (base64 -> data URL, url); document (base64 PDF ->
  a ``file`` part, plain text -> text); ``tool_result`` -> a ``tool`` message
  (its text; ``is_error`` prefixes ``Error: ``; its images follow in a user
  message, since tool messages carry only text). Tool messages come first, as
  chat requires them right after the assistant's tool calls.
- assistant blocks: text -> content; ``tool_use`` -> ``tool_calls`` (a Gemini
  thought signature riding in the id goes back as ``extra_content``, see ids); ``thinking``
  and ``redacted_thinking`` are dropped: their signatures mean something only to
  Anthropic (served natively), and OpenAI-compatible servers refuse fields they
  do not know in a message.
- ``tools`` -> function tools (``input_schema`` -> ``parameters``); Anthropic's
  server tools (a ``type`` other than ``custom``) are refused, no other
  provider runs them. ``tool_choice`` auto/any/tool/none -> auto/required/
  the function/none; ``disable_parallel_tool_use`` -> ``parallel_tool_calls: false``.
- ``max_tokens``, ``temperature``, ``top_p``; ``stop_sequences`` -> ``stop``;
  ``metadata.user_id`` -> ``user`` (its first 64 characters); ``thinking`` ->
  ``reasoning_effort`` (by budget).
- Dropped: ``cache_control`` everywhere, ``top_k`` (chat has no such parameter
  and OpenAI refuses unknown ones), ``service_tier``, ``container``, ``mcp_servers``.
- ``stream`` -> ``stream`` with ``stream_options.include_usage`` (usage ends the stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway.adapters.base import JSON
from gateway.messages import ids
from gateway.validation import ChatParams, invalid_value, whole

ERROR_PREFIX = "Error: "
"""Put before a failed tool's result: chat's tool messages have no error flag."""

EFFORTS = ((4096, "low"), (16384, "medium"))
"""Thinking budgets below each bound map to this reasoning effort; larger ones to high."""

USER_CHARS = 64
"""OpenAI's limit for ``user``; Claude Code's user ids are longer (their start identifies)."""

TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


@dataclass(slots=True)  # not frozen: made per request; a frozen __init__ costs 2x
class MessagesParams:
    """What routing and relaying need from a Messages body."""

    model: str
    stream: bool
    stop_sequences: tuple[str, ...]
    rewritten: bool = False
    """max_tokens came as a whole float (``2.0``) and is now an int in the body."""


def params(body: JSON) -> MessagesParams:
    """Check the fields every provider needs; InvalidRequest naming the first bad one."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid_value("must be a non-empty string", "model")
    given = body.get("max_tokens")
    max_tokens = whole(given)
    if max_tokens is None or max_tokens < 1:
        raise invalid_value("must be an integer of at least 1 (it is required)", "max_tokens")
    if max_tokens is not given:
        body["max_tokens"] = max_tokens
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_value("must be a non-empty list", "messages")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid_value("must be a boolean", "stream")
    stop = body.get("stop_sequences")
    if stop is None:
        stop = []
    elif not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise invalid_value("must be a list of strings", "stop_sequences")
    return MessagesParams(model, stream, tuple(stop), max_tokens is not given)


def chat_params(params_: MessagesParams) -> ChatParams:
    """The chat pipeline's view of the request: streamed usage is always asked for."""
    return ChatParams(model=params_.model, stream=params_.stream, include_usage=True)


# ------------------------------------------------------------------ blocks


def _blocks(content: Any, param: str) -> list[JSON]:
    """Content as a list of blocks (a string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise invalid_value("must be a string or a list of content blocks", param)
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise invalid_value("a content block needs a 'type'", f"{param}.{j}")
    return content


def _text(block: JSON, param: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise invalid_value("a text block needs a 'text' string", f"{param}.text")
    return text


def _image(block: JSON, param: str) -> JSON:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64" and isinstance(source, dict):
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif kind == "url" and isinstance(source, dict) and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise invalid_value("images need a base64 or url source here", f"{param}.source")
    return {"type": "image_url", "image_url": {"url": url}}


def _document(block: JSON, param: str) -> JSON:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if not isinstance(source, dict):
        raise invalid_value("a document needs a source", f"{param}.source")
    if kind == "text" and isinstance(source.get("data"), str):
        return {"type": "text", "text": source["data"]}
    if kind == "base64" and source.get("media_type") == "application/pdf":
        title = block.get("title")
        return {
            "type": "file",
            "file": {
                "filename": title if isinstance(title, str) and title else "document.pdf",
                "file_data": f"data:application/pdf;base64,{source.get('data')}",
            },
        }
    raise invalid_value(
        "documents need a base64 PDF or a text source for this provider", f"{param}.source"
    )


def _part(block: JSON, param: str) -> JSON:
    """A user content block as a chat content part."""
    kind = block["type"]
    if kind == "text":
        return {"type": "text", "text": _text(block, param)}
    if kind == "image":
        return _image(block, param)
    if kind == "document":
        return _document(block, param)
    raise invalid_value(f"content block type {kind!r} is not supported for this provider", param)


def _content(parts: list[JSON]) -> str | list[JSON]:
    """One text part as a plain string (what every compatible server takes); else the parts."""
    if len(parts) == 1 and parts[0]["type"] == "text":
        text: str = parts[0]["text"]
        return text
    return parts


def _tool_result(block: JSON, param: str) -> tuple[JSON, list[JSON]]:
    """A tool_result -> (the tool message, image parts for a user message after it)."""
    call_id, _ = ids.split(block.get("tool_use_id"))
    if not isinstance(call_id, str) or not call_id:
        raise invalid_value("a tool_result needs its 'tool_use_id'", f"{param}.tool_use_id")
    content = block.get("content")
    texts: list[str] = []
    images: list[JSON] = []
    if content is not None:
        for k, inner in enumerate(_blocks(content, f"{param}.content")):
            part = _part(inner, f"{param}.content.{k}")
            if part["type"] == "text":
                texts.append(part["text"])
            else:
                images.append(part)
    text = "\n".join(texts)
    if block.get("is_error") is True:
        text = ERROR_PREFIX + text
    return {"role": "tool", "tool_call_id": call_id, "content": text}, images


def _user(content: Any, param: str) -> list[JSON]:
    """One user turn -> its tool messages first, then one user message with the rest."""
    tools: list[JSON] = []
    parts: list[JSON] = []
    later: list[JSON] = []
    for j, block in enumerate(_blocks(content, param)):
        if block["type"] == "tool_result":
            message, images = _tool_result(block, f"{param}.{j}")
            tools.append(message)
            later.extend(images)
        else:
            parts.append(_part(block, f"{param}.{j}"))
    parts.extend(later)
    if parts:
        tools.append({"role": "user", "content": _content(parts)})
    return tools


def _assistant(content: Any, param: str) -> JSON:
    texts: list[str] = []
    calls: list[JSON] = []
    for j, block in enumerate(_blocks(content, param)):
        kind = block["type"]
        if kind == "text":
            texts.append(_text(block, f"{param}.{j}"))
        elif kind == "tool_use":
            calls.append(_tool_call(block, f"{param}.{j}"))
        elif kind not in ("thinking", "redacted_thinking"):
            raise invalid_value(
                f"content block type {kind!r} is not supported for this provider", f"{param}.{j}"
            )
    message: JSON = {"role": "assistant", "content": "\n\n".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return message


def _tool_call(block: JSON, param: str) -> JSON:
    (call_id, signature), name = ids.split(block.get("id")), block.get("name")
    if not isinstance(call_id, str) or not isinstance(name, str):
        raise invalid_value("a tool_use block needs 'id' and 'name'", param)
    arguments = block.get("input")
    call: JSON = {
        "id": call_id,
        "type": "function",
        "function": {
            "name": name,
            "arguments": orjson.dumps(arguments if arguments is not None else {}).decode(),
        },
    }
    if signature is not None:
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return call


def _messages(body: JSON) -> list[JSON]:
    out: list[JSON] = []
    system = body.get("system")
    if system is not None:
        if isinstance(system, str):
            text = system
        else:
            blocks = _blocks(system, "system")
            text = "\n\n".join(_text(b, f"system.{j}") for j, b in enumerate(blocks))
        if text:
            out.append({"role": "system", "content": text})
    for i, message in enumerate(body["messages"]):
        param = f"messages.{i}"
        if not isinstance(message, dict):
            raise invalid_value("each message must be an object", param)
        role = message.get("role")
        if role == "user":
            out.extend(_user(message.get("content"), f"{param}.content"))
        elif role == "assistant":
            out.append(_assistant(message.get("content"), f"{param}.content"))
        else:
            raise invalid_value("role must be 'user' or 'assistant'", f"{param}.role")
    return out


# ------------------------------------------------------------------- tools


def _tools(tools: Any) -> list[JSON]:
    if not isinstance(tools, list):
        raise invalid_value("must be a list", "tools")
    out: list[JSON] = []
    for i, tool in enumerate(tools):
        param = f"tools.{i}"
        if not isinstance(tool, dict):
            raise invalid_value("each tool must be an object", param)
        kind = tool.get("type")
        if kind not in (None, "custom"):
            raise invalid_value(
                f"tool type {kind!r} runs only on Anthropic providers; "
                "this model is served by another provider",
                f"{param}.type",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_value("a tool needs a 'name'", f"{param}.name")
        function: JSON = {
            "name": name,
            "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
        }
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any, chat: JSON) -> None:
    """Set ``tool_choice`` (and ``parallel_tool_calls``) on the chat body."""
    kind = choice.get("type") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or (kind not in TOOL_CHOICES and kind != "tool"):
        raise invalid_value("type must be one of auto, any, tool, none", "tool_choice.type")
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_value("a 'tool' choice needs the tool's 'name'", "tool_choice.name")
        chat["tool_choice"] = {"type": "function", "function": {"name": name}}
    else:
        chat["tool_choice"] = TOOL_CHOICES[kind]
    if choice.get("disable_parallel_tool_use") is True and kind != "none":
        chat["parallel_tool_calls"] = False


def _effort(thinking: Any) -> str | None:
    """A thinking config as a reasoning effort; None when thinking is off."""
    if not isinstance(thinking, dict) or thinking.get("type") == "disabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int):
        return "medium"  # "adaptive", or no budget named: the provider's middle setting
    for bound, effort in EFFORTS:
        if budget < bound:
            return effort
    return "high"


# ---------------------------------------------------------------- the body


def to_chat(body: JSON, params_: MessagesParams) -> JSON:
    """The chat body for a Messages body that ``params`` accepted."""
    chat: JSON = {
        "model": params_.model,
        "messages": _messages(body),
        "max_tokens": body["max_tokens"],
    }
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise invalid_value("must be a number", key)
            chat[key] = value
    if params_.stop_sequences:
        chat["stop"] = list(params_.stop_sequences)
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        chat["user"] = metadata["user_id"][:USER_CHARS]
    effort = _effort(body.get("thinking"))
    if effort is not None:
        chat["reasoning_effort"] = effort
    tools = body.get("tools")
    if tools:
        chat["tools"] = _tools(tools)
        if body.get("tool_choice") is not None:
            _tool_choice(body["tool_choice"], chat)
    if params_.stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat
