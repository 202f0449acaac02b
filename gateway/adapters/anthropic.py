"""Anthropic Messages API <-> OpenAI chat completions.

Request rules (everything not listed is dropped, so nothing Anthropic cannot
honour reaches it and causes a 400):
- system/developer messages -> top-level ``system``; tool messages -> ``tool_result``
  blocks, consecutive ones merged into one user turn; assistant ``tool_calls`` ->
  ``tool_use`` blocks; image parts -> base64 (data URLs) or url sources.
- ``max_completion_tokens`` or ``max_tokens``, else 4096 (Anthropic requires one).
- ``temperature`` is clamped to Anthropic's 0..1; ``top_p``; ``stop`` -> ``stop_sequences``;
  ``user`` -> ``metadata.user_id``; ``tools``/``tool_choice`` mapped (required -> any),
  ``parallel_tool_calls: false`` -> ``disable_parallel_tool_use``.
- Anthropic-only extensions passed as given: ``top_k``, ``thinking``.
- empty assistant messages are skipped (Anthropic refuses them).
- ``n`` other than 1 is refused (400); penalties, seed, logprobs, logit_bias,
  response_format and the like are dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway.adapters import shapes
from gateway.adapters.base import JSON, ModelPage, StreamUsage, Target, UpstreamRequest
from gateway.errors import InvalidRequest, UpstreamError

DEFAULT_MAX_TOKENS = 4096
MODELS_PAGE_SIZE = 1000

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _finish(stop_reason: Any) -> str:
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _prompt_tokens(counts: JSON) -> int:
    """Anthropic counts cached input apart; OpenAI's prompt_tokens includes it."""
    return (
        _int(counts.get("input_tokens"))
        + _int(counts.get("cache_creation_input_tokens"))
        + _int(counts.get("cache_read_input_tokens"))
    )


# ----------------------------------------------------------------- request


def _image(part: JSON, param: str) -> JSON:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest("image_url.url must be a non-empty string", param=param)
    if url.startswith("data:"):
        mime, data = shapes.parse_data_url(url, param)
        return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any, param: str) -> str | list[JSON]:
    """User or tool content: a string stays a string; parts become blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest("content must be a string or a list of parts", param=param)
    blocks: list[JSON] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            blocks.append(_image(part, f"{param}[{j}]"))
        else:
            raise InvalidRequest(
                f"content part type {kind!r} is not supported by this provider",
                param=f"{param}[{j}].type",
            )
    return blocks


def _assistant(message: JSON, i: int) -> JSON:
    blocks: list[JSON] = []
    text = shapes.text_of(message.get("content"), f"messages[{i}].content")
    if text:
        blocks.append({"type": "text", "text": text})
    for j, call in enumerate(message.get("tool_calls") or ()):
        param = f"messages[{i}].tool_calls[{j}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise InvalidRequest("tool call needs a function", param=param)
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": shapes.load_arguments(
                    function.get("arguments"), f"{param}.function.arguments"
                ),
            }
        )
    return {"role": "assistant", "content": blocks or ""}


def _messages(messages: list[JSON]) -> tuple[list[JSON], list[str]]:
    """OpenAI messages -> (Anthropic messages, system texts)."""
    out: list[JSON] = []
    system: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        param = f"messages[{i}].content"
        if role in ("system", "developer"):
            system.append(shapes.text_of(message.get("content"), param))
        elif role == "user":
            out.append({"role": "user", "content": _blocks(message.get("content"), param)})
        elif role == "assistant":
            turn = _assistant(message, i)
            if turn["content"]:  # Anthropic refuses empty assistant turns
                out.append(turn)
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": _blocks(message.get("content") or "", param),
            }
            previous = out[-1] if out else None
            if previous and previous.get("tool_results"):
                previous["content"].append(result)
            else:
                out.append({"role": "user", "content": [result], "tool_results": True})
        else:
            raise InvalidRequest(f"unknown role {role!r}", param=f"messages[{i}].role")
    for message in out:
        message.pop("tool_results", None)
    return out, system


def _tools(tools: Any) -> list[JSON]:
    out = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise InvalidRequest("only function tools are supported", param=f"tools[{i}].type")
        spec: JSON = {
            "name": function.get("name"),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            spec["description"] = function["description"]
        out.append(spec)
    return out


def _tool_choice(choice: Any, parallel: Any) -> JSON | None:
    if choice is None:
        mapped: JSON = {"type": "auto"}
    elif choice == "auto":
        mapped = {"type": "auto"}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        mapped = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        mapped = {"type": "tool", "name": choice["function"].get("name")}
    else:
        raise InvalidRequest("unsupported tool_choice", param="tool_choice")
    if parallel is False:
        mapped["disable_parallel_tool_use"] = True
    elif choice is None:
        return None
    return mapped


def to_messages_request(body: JSON, upstream_model: str, stream: bool) -> JSON:
    """The Anthropic request body for an OpenAI chat body."""
    shapes.reject_n(body)
    messages, system = _messages(body.get("messages") or [])
    request: JSON = {
        "model": upstream_model,
        "messages": messages,
        "max_tokens": body.get("max_completion_tokens")
        or body.get("max_tokens")
        or DEFAULT_MAX_TOKENS,
    }
    if system:
        request["system"] = "\n\n".join(system)
    temperature = body.get("temperature")
    if isinstance(temperature, int | float):
        request["temperature"] = min(float(temperature), 1.0)
    for key in ("top_p", "top_k", "thinking"):
        if body.get(key) is not None:
            request[key] = body[key]
    stop = shapes.stop_list(body.get("stop"))
    if stop:
        request["stop_sequences"] = stop
    if isinstance(body.get("user"), str):
        request["metadata"] = {"user_id": body["user"]}
    if body.get("tools"):
        request["tools"] = _tools(body["tools"])
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice:
            request["tool_choice"] = choice
    if stream:
        request["stream"] = True
    return request


# ---------------------------------------------------------------- response


def to_completion(message: JSON, model: str) -> JSON:
    """An Anthropic message -> chat.completion."""
    content = message.get("content")
    if not isinstance(content, list):
        raise UpstreamError("upstream message has no content list")
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[JSON] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
    reply: JSON = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if thinking:
        reply["reasoning_content"] = "".join(thinking)
    if calls:
        reply["tool_calls"] = calls
    counts = message.get("usage")
    if not isinstance(counts, dict):
        counts = {}
    return shapes.completion(
        model,
        reply,
        _finish(message.get("stop_reason")),
        shapes.usage(_prompt_tokens(counts), _int(counts.get("output_tokens"))),
        id_=message["id"] if isinstance(message.get("id"), str) else None,
    )


async def to_chunks(
    events: AsyncIterator[bytes], model: str, include_usage: bool, usage: list[StreamUsage]
) -> AsyncIterator[bytes]:
    """Anthropic stream event payloads -> chat.completion.chunk events."""
    writer = shapes.ChunkWriter(model)
    tool_index: dict[int, int] = {}
    """Anthropic content block index -> OpenAI tool call index."""
    prompt = completion = 0
    async for data in events:
        event = shapes.load_object(data, "stream event")
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            delta_kind = delta.get("type")
            if delta_kind == "text_delta":
                yield writer.delta({"content": delta.get("text", "")})
            elif delta_kind == "input_json_delta":
                index = tool_index.get(event.get("index", -1))
                if index is None:
                    raise UpstreamError("upstream sent tool input for an unknown block")
                arguments = {"arguments": delta.get("partial_json", "")}
                yield writer.delta({"tool_calls": [{"index": index, "function": arguments}]})
            elif delta_kind == "thinking_delta":
                yield writer.delta({"reasoning_content": delta.get("thinking", "")})
            # signature_delta and citations_delta have no OpenAI counterpart.
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            block_kind = block.get("type")
            if block_kind == "tool_use":
                index = len(tool_index)
                tool_index[event.get("index", index)] = index
                call = {
                    "index": index,
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""},
                }
                yield writer.delta({"tool_calls": [call]})
            elif block_kind == "text" and block.get("text"):
                yield writer.delta({"content": block["text"]})
            elif block_kind == "thinking" and block.get("thinking"):
                yield writer.delta({"reasoning_content": block["thinking"]})
        elif kind == "message_start":
            message = event.get("message") or {}
            if isinstance(message.get("id"), str):
                writer = shapes.ChunkWriter(model, message["id"])
            counts = message.get("usage") or {}
            prompt, completion = _prompt_tokens(counts), _int(counts.get("output_tokens"))
            usage.append(StreamUsage(prompt, completion))
            yield writer.delta({"role": "assistant", "content": ""})
        elif kind == "message_delta":
            counts = event.get("usage") or {}
            if "output_tokens" in counts:
                completion = _int(counts["output_tokens"])
            if _prompt_tokens(counts):  # newer APIs repeat the input counts here
                prompt = _prompt_tokens(counts)
            usage.append(StreamUsage(prompt, completion))
            stop_reason = (event.get("delta") or {}).get("stop_reason")
            yield writer.delta({}, _finish(stop_reason))
        elif kind == "error":
            error = event.get("error") or {}
            yield shapes.error_event(
                str(error.get("message") or "upstream stream error"),
                code=error.get("type") if isinstance(error.get("type"), str) else None,
            )
            return
        elif kind == "message_stop":
            break
        # ping and content_block_stop carry nothing for the client.
    if include_usage and usage:
        yield writer.usage(usage[-1])


class AnthropicAdapter:
    name = "anthropic"
    supports_embeddings = False

    def build_chat(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str, stream: bool
    ) -> UpstreamRequest:
        request = to_messages_request(body, upstream_model, stream)
        return UpstreamRequest(
            "POST",
            target.url(target.paths.chat, upstream_model),
            target.json_headers,
            orjson.dumps(request),
            target.query,
        )

    def parse_chat(self, payload: bytes, model: str) -> JSON:
        return to_completion(shapes.load_object(payload, "message"), model)

    def parse_error(self, status: int, payload: bytes) -> str:
        return shapes.error_message(status, payload)

    def stream_chat(
        self,
        events: AsyncIterator[bytes],
        model: str,
        include_usage: bool,
        usage: list[StreamUsage],
    ) -> AsyncIterator[bytes]:
        return to_chunks(events, model, include_usage, usage)

    def build_models(self, target: Target, cursor: str | None) -> UpstreamRequest:
        params = {**target.query, "limit": str(MODELS_PAGE_SIZE)}
        if cursor:
            params["after_id"] = cursor
        path = target.paths.models or "/models"
        return UpstreamRequest("GET", target.url(path), target.headers, None, params)

    def parse_models(self, payload: bytes) -> ModelPage:
        listing = shapes.load_object(payload, "model list")
        data = listing.get("data")
        if not isinstance(data, list):
            raise UpstreamError("upstream model list has no data")
        ids = [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
        last = listing.get("last_id") or (ids[-1] if ids else None)
        return ModelPage(ids, last if listing.get("has_more") and last else None)

    def build_embeddings(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str
    ) -> UpstreamRequest:
        raise InvalidRequest("this provider does not offer embeddings", param="model")

    def parse_embeddings(self, payload: bytes, model: str) -> JSON:
        raise InvalidRequest("this provider does not offer embeddings", param="model")
