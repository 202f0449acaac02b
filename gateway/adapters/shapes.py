"""OpenAI response shapes that the translating adapters (anthropic, gemini) build."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from gateway.adapters.base import JSON, StreamUsage, Target, UpstreamRequest
from gateway.errors import InvalidRequest, UpstreamError, error_body


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def completion(
    model: str,
    message: JSON,
    finish_reason: str | None,
    counts: StreamUsage,
    id_: str | None = None,
) -> JSON:
    """A chat.completion with every field OpenAI's schema requires (refusal, logprobs)."""
    message.setdefault("refusal", None)
    return {
        "id": id_ or new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": counts.to_openai(),
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

    def delta(self, delta: JSON, finish_reason: str | None = None, index: int = 0) -> bytes:
        choice = {"index": index, "delta": delta, "finish_reason": finish_reason}
        return b"data: " + orjson.dumps({**self._head, "choices": [choice]}) + b"\n\n"

    def usage(self, counts: StreamUsage) -> bytes:
        """The single final usage chunk: prompt and completion together, no choices."""
        body = {**self._head, "choices": [], "usage": counts.to_openai()}
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


def pdf_data(part: JSON, param: str) -> str:
    """The base64 data of an OpenAI ``file`` part holding a PDF (data URL or bare base64)."""
    file = part.get("file")
    if not isinstance(file, dict):
        raise InvalidRequest("a file part needs a 'file' object", param=param)
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        raise InvalidRequest(
            "this provider takes files inline only: send 'file_data', not 'file_id'",
            param=f"{param}.file",
        )
    if data.startswith("data:"):
        mime, data = parse_data_url(data, f"{param}.file.file_data")
        if mime != "application/pdf":
            raise InvalidRequest(
                f"this provider reads PDF files only, not {mime}", param=f"{param}.file.file_data"
            )
    return data


def image_url(part: JSON, param: str) -> str:
    """The URL (or data URL) of a chat ``image_url`` part."""
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest("image_url.url must be a non-empty string", param=param)
    return url


PartTranslator = Callable[[JSON, str], JSON]
"""One chat content part (and its param path) -> the upstream's part."""


def translate_parts(content: Any, param: str, kinds: Mapping[str, PartTranslator]) -> list[JSON]:
    """A list of chat content parts, each by its type's translator; other types are a 400."""
    if not isinstance(content, list):
        raise InvalidRequest("content must be a string or a list of parts", param=param)
    out: list[JSON] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        translate = kinds.get(kind) if isinstance(kind, str) else None
        if translate is None:
            raise InvalidRequest(
                f"content part type {kind!r} is not supported by this provider",
                param=f"{param}[{j}].type",
            )
        out.append(translate(part, f"{param}[{j}]"))
    return out


def functions(tools: Any) -> Iterator[JSON]:
    """The ``function`` of each chat tool; any other kind of tool is a 400 naming it."""
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type") != "function":
            raise InvalidRequest("only function tools are supported", param=f"tools[{i}].type")
        yield function


def reasoning_value(body: JSON, target: Target, model: str) -> int | str | None:
    """The upstream's value for ``reasoning_effort`` (template data), None when not asked."""
    effort = body.get("reasoning_effort")
    if effort is None:
        return None
    family = target.family(model)
    if family is None or family.reasoning is None or effort not in family.efforts:
        raise InvalidRequest(
            f"reasoning_effort {effort!r} is not supported for model {model!r} by this provider",
            param="reasoning_effort",
        )
    return family.efforts[effort]


def response_schema(body: JSON) -> tuple[str, JSON] | None:
    """``response_format`` as (name, JSON schema); None for text or when absent."""
    response_format = body.get("response_format")
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return "json_object", {"type": "object"}
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise InvalidRequest(
                "json_schema needs a 'schema' object", param="response_format.json_schema.schema"
            )
        name = spec.get("name") if isinstance(spec, dict) else None
        return (name if isinstance(name, str) and name else "json_schema"), schema
    raise InvalidRequest(
        "response_format.type must be text, json_object or json_schema",
        param="response_format.type",
    )


def refuse_untranslated(body: JSON) -> None:
    """Parameters a translating adapter cannot honour and must not drop: a 400 naming each."""
    for key in ("functions", "function_call"):
        if body.get(key) is not None:
            raise InvalidRequest(
                f"'{key}' is deprecated and not translated: use 'tools'", param=key
            )
    modalities = body.get("modalities")
    if body.get("audio") is not None or (isinstance(modalities, list) and "audio" in modalities):
        param = "audio" if body.get("audio") is not None else "modalities"
        raise InvalidRequest("this provider does not answer with audio", param=param)
    if body.get("web_search_options") is not None:
        raise InvalidRequest(
            "web search is not offered through this provider", param="web_search_options"
        )


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
        for key in ("reasoning_content", "thinking_blocks", "refusal"):
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


MODELS_PAGE_SIZE = 1000
"""Models asked for per page from the upstreams that page their list."""


def models_request(
    target: Target, cursor: str | None = None, size: str = "", after: str = ""
) -> UpstreamRequest:
    """GET the target's model list; a paged one names its ``size`` and ``after`` parameters."""
    params = {**target.query, size: str(MODELS_PAGE_SIZE)} if size else target.query
    if cursor and after:
        params = {**params, after: cursor}
    path = target.paths.models or "/models"
    return UpstreamRequest("GET", target.url(path), target.headers, None, params)
