"""OpenAI response shapes that the translating adapters (anthropic, gemini) build."""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from gateway.adapters.base import JSON, StreamUsage
from gateway.errors import InvalidRequest, UpstreamError, error_body


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def usage(prompt: int, completion: int, total: int | None = None) -> JSON:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion if total is None else total,
    }


def completion(
    model: str, message: JSON, finish_reason: str | None, usage_: JSON, id_: str | None = None
) -> JSON:
    return {
        "id": id_ or new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage_,
    }


class ChunkWriter:
    """Encodes ``chat.completion.chunk`` events sharing one id, created and model."""

    __slots__ = ("_head",)

    def __init__(self, model: str, id_: str | None = None) -> None:
        self._head = {
            "id": id_ or new_id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

    def delta(self, delta: JSON, finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return b"data: " + orjson.dumps({**self._head, "choices": [choice]}) + b"\n\n"

    def usage(self, counts: StreamUsage) -> bytes:
        """The single final usage chunk: prompt and completion together, no choices."""
        body = {
            **self._head,
            "choices": [],
            "usage": usage(counts.prompt_tokens, counts.completion_tokens),
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"


def error_event(message: str, type_: str = "upstream_error", code: str | None = None) -> bytes:
    """A stream-ending error in OpenAI's error shape (its message masked by ``error_body``)."""
    return b"data: " + orjson.dumps(error_body(message, type_, None, code)) + b"\n\n"


def load_object(payload: bytes, what: str) -> JSON:
    """A JSON object from the upstream, or UpstreamError (no payload echoed)."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamError(f"upstream sent malformed JSON in {what}") from None
    if not isinstance(value, dict):
        raise UpstreamError(f"upstream sent a non-object {what}")
    return value


def load_arguments(arguments: Any, param: str) -> Any:
    """Tool-call arguments (a JSON string in OpenAI's format) as an object."""
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or arguments == "":
        return {}
    if not isinstance(arguments, str):
        raise InvalidRequest("tool call arguments must be a JSON string", param=param)
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise InvalidRequest("tool call arguments are not valid JSON", param=param) from None


def text_of(content: Any, param: str) -> str:
    """Plain text of a message content that must be text (string or text parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise InvalidRequest("only text parts are allowed here", param=f"{param}[{j}]")
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    raise InvalidRequest("content must be a string or a list of parts", param=param)


def parse_data_url(url: str, param: str) -> tuple[str, str]:
    """``data:<mime>;base64,<data>`` -> (mime, data)."""
    head, comma, data = url.partition(",")
    if not comma or not head.startswith("data:") or not head.endswith(";base64"):
        raise InvalidRequest("image data URLs must be base64 encoded", param=param)
    return head[5:-7] or "application/octet-stream", data


def reject_n(body: JSON) -> None:
    """One choice only: silently answering fewer choices than asked would mislead."""
    n = body.get("n")
    if n is not None and n != 1:
        raise InvalidRequest("this provider returns one choice; n must be 1", param="n")


def stop_list(stop: Any) -> list[str] | None:
    if stop is None:
        return None
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return list(stop)
    raise InvalidRequest("stop must be a string or a list of strings", param="stop")


def error_message(status: int, payload: bytes) -> str:
    """The ``error.message`` most providers use, else a generic line (no body echo)."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return f"upstream answered HTTP {status}"
    if isinstance(value, list) and value:  # Gemini sometimes wraps errors in a list
        value = value[0]
    if isinstance(value, dict):
        error = value.get("error", value)
        if isinstance(error, str) and error:
            return error
        if isinstance(error, dict):
            for key in ("message", "detail"):
                message = error.get(key)
                if isinstance(message, str) and message:
                    return message
        detail = value.get("detail") or value.get("message")
        if isinstance(detail, str) and detail:
            return detail
    return f"upstream answered HTTP {status}"


def completion_chunks(answer: JSON, include_usage: bool) -> bytes:
    """A whole chat.completion told as chunk events (for an upstream that ignored streaming)."""
    events = completion_chunk_objects(answer, include_usage)
    return b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in events)


def completion_chunk_objects(answer: JSON, include_usage: bool) -> list[JSON]:
    """The chunk objects ``completion_chunks`` sends, for a route that speaks another format.

    Per choice: one delta with the role, content, reasoning and tool calls (each
    with its index), then one with the finish reason; the usage chunk last, when asked.
    """
    head: JSON = {
        "id": answer.get("id") or new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": answer.get("created") or int(time.time()),
        "model": answer.get("model"),
    }
    if include_usage:
        head["usage"] = None
    if isinstance(answer.get("system_fingerprint"), str):
        head["system_fingerprint"] = answer["system_fingerprint"]
    events: list[JSON] = []
    for i, choice in enumerate(answer.get("choices") or ()):
        if not isinstance(choice, dict):
            continue
        index = choice.get("index", i)
        message = choice.get("message")
        if not isinstance(message, dict):
            message = {}
        delta: JSON = {
            "role": message.get("role") or "assistant",
            "content": message.get("content"),
        }
        for key in ("reasoning_content", "refusal"):
            if message.get(key) is not None:
                delta[key] = message[key]
        calls = message.get("tool_calls")
        if isinstance(calls, list) and calls:
            delta["tool_calls"] = [
                {"index": n, **call} for n, call in enumerate(calls) if isinstance(call, dict)
            ]
        finish = choice.get("finish_reason")
        events.append(
            {**head, "choices": [{"index": index, "delta": delta, "finish_reason": None}]}
        )
        events.append({**head, "choices": [{"index": index, "delta": {}, "finish_reason": finish}]})
    if include_usage and isinstance(answer.get("usage"), dict):
        events.append({**head, "choices": [], "usage": answer["usage"]})
    return events
