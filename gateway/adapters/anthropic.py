"""Anthropic Messages API <-> OpenAI chat completions.

Request rules (everything not listed is dropped, so nothing Anthropic cannot
honour reaches it and causes a 400; docs/parameters.md has the whole table):
- system/developer messages -> top-level ``system``; tool messages -> ``tool_result``
  blocks, consecutive ones merged into one user turn; assistant ``tool_calls`` ->
  ``tool_use`` blocks; image parts -> base64 (data URLs) or url sources; PDF
  ``file`` parts -> ``document`` blocks.
- ``max_completion_tokens`` or ``max_tokens``, else 4096 (Anthropic requires one).
- ``temperature`` above Anthropic's 1 is clamped to 1 and reported in the answer's
  ``X-Gateway-Adjusted: temperature`` header; ``top_p``; ``stop`` -> ``stop_sequences``;
  ``user`` (else ``safety_identifier``) -> ``metadata.user_id``; ``tools``/``tool_choice``
  mapped (required -> any), ``parallel_tool_calls: false`` -> ``disable_parallel_tool_use``.
- ``response_format``: json_schema -> ``output_config.format`` for families with
  structured outputs (template data); otherwise, and for json_object, a forced tool
  call (RESPONSE_TOOL) whose input is the answer, unwrapped into ``message.content``.
- ``reasoning_effort`` -> ``thinking.budget_tokens`` from the template's families
  (temperature and top_k, which thinking refuses, are dropped and reported as adjusted).
- Anthropic-only extensions passed as given: ``top_k``, ``thinking``.
- empty assistant messages are skipped (Anthropic refuses them).
- ``n`` other than 1, ``functions``/``function_call``, audio output and
  ``web_search_options`` are refused (400); penalties, seed, logprobs, logit_bias and
  the like are dropped.

Thinking round trip: Anthropic wants the assistant turn that carries ``tool_use``
back with its thinking blocks first, signatures included. Answers carry them in
``message.thinking_blocks`` (and streams in ``delta.thinking_blocks``), a list of
Anthropic's own blocks, unchanged::

    {"type": "thinking", "thinking": "<text>", "signature": "<opaque>"}
    {"type": "redacted_thinking", "data": "<opaque>"}

In a stream each list item is one whole block, sent when the block ends (its text
also streamed as ``reasoning_content``): a client appends the items. A client
sends the list back unchanged on the assistant message; the blocks are put
first in that turn. ``reasoning_content`` stays the plain text, for display.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson

from gateway.adapters import shapes
from gateway.adapters.base import (
    JSON,
    ModelPage,
    StreamUsage,
    Target,
    UpstreamRequest,
    token_count,
)
from gateway.errors import InvalidRequest, UpstreamError

DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024
RESPONSE_TOOL = "json_response"
"""The tool that carries a ``response_format`` answer on models without structured outputs."""
REFUSAL = "The model declined to answer (Anthropic stop_reason: refusal)."
THINKING_KINDS = frozenset({"thinking", "redacted_thinking"})

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _finish(stop_reason: Any, answered_only: bool = False) -> str:
    """OpenAI's finish_reason; a tool_use stop that only gave the RESPONSE_TOOL answer is a stop."""
    mapped = FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"
    return "stop" if mapped == "tool_calls" and answered_only else mapped


def _usage(counts: JSON, completion: int | None = None) -> StreamUsage:
    """Anthropic counts cached input apart; OpenAI's prompt_tokens includes it."""
    read = token_count(counts.get("cache_read_input_tokens"))
    written = token_count(counts.get("cache_creation_input_tokens"))
    return StreamUsage(
        token_count(counts.get("input_tokens")) + read + written,
        token_count(counts.get("output_tokens")) if completion is None else completion,
        cached_tokens=read,
        cache_write_tokens=written,
    )


def _thinking_block(block: Any, param: str) -> JSON:
    """One thinking block a client sent back, checked (never altered)."""
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "thinking" and isinstance(block.get("thinking"), str):
        signature = block.get("signature")
        if isinstance(signature, str) and signature:
            return {"type": "thinking", "thinking": block["thinking"], "signature": signature}
        raise InvalidRequest("a thinking block needs its signature", param=f"{param}.signature")
    if kind == "redacted_thinking" and isinstance(block.get("data"), str):
        return {"type": "redacted_thinking", "data": block["data"]}
    raise InvalidRequest(
        "thinking_blocks items are Anthropic thinking or redacted_thinking blocks", param=param
    )


# ----------------------------------------------------------------- request


def _image(part: JSON, param: str) -> JSON:
    url = shapes.image_url(part, param)
    if url.startswith("data:"):
        mime, data = shapes.parse_data_url(url, param)
        return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any, param: str) -> str | list[JSON]:
    """User or tool content: a string stays a string; parts become blocks."""
    if isinstance(content, str):
        return content
    return shapes.translate_parts(content, param, _BLOCKS)


def _text(part: JSON, param: str) -> JSON:
    return {"type": "text", "text": str(part.get("text", ""))}


def _document(part: JSON, param: str) -> JSON:
    data = shapes.pdf_data(part, param)
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": data},
    }


_BLOCKS: dict[str, shapes.PartTranslator] = {
    "text": _text,
    "image_url": _image,
    "file": _document,
}


def _assistant(message: JSON, i: int) -> JSON:
    thinking = message.get("thinking_blocks") or []
    if not isinstance(thinking, list):
        raise InvalidRequest(
            "thinking_blocks must be a list", param=f"messages[{i}].thinking_blocks"
        )
    blocks = [
        _thinking_block(block, f"messages[{i}].thinking_blocks[{j}]")
        for j, block in enumerate(thinking)
    ]
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
    for function in shapes.functions(tools):
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


def _structured(
    request: JSON, body: JSON, target: Target, upstream_model: str, forced: bool
) -> None:
    """``response_format``: the upstream's structured outputs, else a forced answer tool."""
    wanted = shapes.response_schema(body)
    if wanted is None:
        return
    name, schema = wanted
    family = target.family(upstream_model)
    if name != "json_object" and family is not None and family.structured_output:
        request["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        return
    tool = {
        "name": RESPONSE_TOOL,
        "description": f"Give the final answer ({name}) as this tool's input.",
        "input_schema": schema,
    }
    request["tools"] = [*request.get("tools", ()), tool]
    if not forced:  # the client's own tool_choice wins when it forces one of its tools
        request["tool_choice"] = {"type": "tool", "name": RESPONSE_TOOL}


def _thinking(
    request: JSON, body: JSON, target: Target, upstream_model: str, adjusted: list[str]
) -> None:
    """``reasoning_effort`` -> a thinking budget below max_tokens (template data)."""
    budget = shapes.reasoning_value(body, target, upstream_model)
    if budget is None or "thinking" in request:
        return
    if not isinstance(budget, int) or budget <= 0:
        return  # "none": thinking stays off
    if body.get("max_completion_tokens") or body.get("max_tokens"):
        budget = min(budget, request["max_tokens"] - 1)
        if budget < MIN_THINKING_BUDGET:
            raise InvalidRequest(
                f"reasoning needs max_completion_tokens above {MIN_THINKING_BUDGET} here",
                param="max_completion_tokens",
            )
    else:
        request["max_tokens"] = DEFAULT_MAX_TOKENS + budget
    request["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if request.get("tool_choice", {}).get("name") == RESPONSE_TOOL:
        request["tool_choice"] = {"type": "auto"}  # thinking refuses a forced tool
    for key in ("temperature", "top_k"):  # thinking refuses both
        if request.pop(key, None) is not None and key not in adjusted:
            adjusted.append(key)


def to_messages_request(
    body: JSON, upstream_model: str, stream: bool, target: Target | None = None
) -> tuple[JSON, list[str]]:
    """The Anthropic request body for an OpenAI chat body, and the fields adjusted to fit."""
    shapes.reject_n(body)
    shapes.refuse_untranslated(body)
    target = target or Target("", "", {})
    messages, system = _messages(body.get("messages") or [])
    adjusted: list[str] = []
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
        if temperature > 1:
            adjusted.append("temperature")
    for key in ("top_p", "top_k", "thinking"):
        if body.get(key) is not None:
            request[key] = body[key]
    stop = shapes.stop_list(body.get("stop"))
    if stop:
        request["stop_sequences"] = stop
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str):
        request["metadata"] = {"user_id": user}
    forced = False
    if body.get("tools"):
        request["tools"] = _tools(body["tools"])
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice:
            request["tool_choice"] = choice
            forced = choice["type"] in ("any", "tool")
    _structured(request, body, target, upstream_model, forced)
    _thinking(request, body, target, upstream_model, adjusted)
    if stream:
        request["stream"] = True
    return request, adjusted


# ---------------------------------------------------------------- response


def to_completion(message: JSON, model: str) -> JSON:
    """An Anthropic message -> chat.completion."""
    content = message.get("content")
    if not isinstance(content, list):
        raise UpstreamError("upstream message has no content list")
    texts: list[str] = []
    thinking: list[str] = []
    blocks: list[JSON] = []
    calls: list[JSON] = []
    answered = False
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind in THINKING_KINDS:
            blocks.append(block)
            if kind == "thinking":
                thinking.append(str(block.get("thinking", "")))
        elif kind == "tool_use" and block.get("name") == RESPONSE_TOOL:
            texts.append(orjson.dumps(block.get("input") or {}).decode())
            answered = True
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
    if blocks:
        reply["thinking_blocks"] = blocks
    if calls:
        reply["tool_calls"] = calls
    stop_reason = message.get("stop_reason")
    reply["refusal"] = REFUSAL if stop_reason == "refusal" else None
    counts = message.get("usage")
    return shapes.completion(
        model,
        reply,
        _finish(stop_reason, answered and not calls),
        _usage(counts if isinstance(counts, dict) else {}),
        id_=message["id"] if isinstance(message.get("id"), str) else None,
    )


class _Blocks:
    """Per content block of a stream: what kind it is, and a thinking block's pieces."""

    __slots__ = ("answer", "calls", "thinking")

    def __init__(self) -> None:
        self.calls: dict[int, int] = {}
        """Anthropic content block index -> OpenAI tool call index."""
        self.answer: set[int] = set()
        """Blocks of the RESPONSE_TOOL: their input is the answer's content."""
        self.thinking: dict[int, JSON] = {}


async def to_chunks(
    events: AsyncIterator[bytes], model: str, include_usage: bool, usage: list[StreamUsage]
) -> AsyncGenerator[bytes, None]:
    """Anthropic stream event payloads -> chat.completion.chunk events."""
    writer = shapes.ChunkWriter(model)
    blocks = _Blocks()
    counts = StreamUsage()
    async for data in events:
        event = shapes.load_object(data, "stream event")
        kind = event.get("type")
        if kind == "content_block_delta":
            index = event.get("index", -1)
            delta = event.get("delta") or {}
            delta_kind = delta.get("type")
            if delta_kind == "text_delta":
                yield writer.delta({"content": delta.get("text", "")})
            elif delta_kind == "input_json_delta":
                fragment = delta.get("partial_json", "")
                if index in blocks.answer:
                    yield writer.delta({"content": fragment})
                    continue
                call = blocks.calls.get(index)
                if call is None:
                    raise UpstreamError("upstream sent tool input for an unknown block")
                arguments = {"arguments": fragment}
                yield writer.delta({"tool_calls": [{"index": call, "function": arguments}]})
            elif delta_kind == "thinking_delta":
                piece = delta.get("thinking", "")
                if index in blocks.thinking:
                    blocks.thinking[index]["thinking"] += piece
                yield writer.delta({"reasoning_content": piece})
            elif delta_kind == "signature_delta" and index in blocks.thinking:
                blocks.thinking[index]["signature"] += delta.get("signature", "")
            # citations_delta has no OpenAI counterpart.
        elif kind == "content_block_start":
            index = event.get("index", -1)
            block = event.get("content_block") or {}
            block_kind = block.get("type")
            if block_kind == "tool_use" and block.get("name") == RESPONSE_TOOL:
                blocks.answer.add(index)
            elif block_kind == "tool_use":
                call = len(blocks.calls)
                blocks.calls[index] = call
                opening = {
                    "index": call,
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""},
                }
                yield writer.delta({"tool_calls": [opening]})
            elif block_kind == "text" and block.get("text"):
                yield writer.delta({"content": block["text"]})
            elif block_kind == "thinking":
                text = str(block.get("thinking") or "")
                blocks.thinking[index] = {
                    "type": "thinking",
                    "thinking": text,
                    "signature": str(block.get("signature") or ""),
                }
                if text:
                    yield writer.delta({"reasoning_content": text})
            elif block_kind == "redacted_thinking":
                redacted = {"type": "redacted_thinking", "data": block.get("data")}
                yield writer.delta({"thinking_blocks": [redacted]})
        elif kind == "content_block_stop":
            finished = blocks.thinking.pop(event.get("index", -1), None)
            if finished is not None:
                yield writer.delta({"thinking_blocks": [finished]})
        elif kind == "message_start":
            message = event.get("message") or {}
            if isinstance(message.get("id"), str):
                writer = shapes.ChunkWriter(model, message["id"])
            counts = _usage(message.get("usage") or {})
            usage.append(counts)
            yield writer.delta({"role": "assistant", "content": ""})
        elif kind == "message_delta":
            seen = event.get("usage") or {}
            completion = (
                token_count(seen["output_tokens"])
                if "output_tokens" in seen
                else counts.completion_tokens
            )
            repeated = _usage(seen, completion)  # newer APIs repeat the input counts here
            counts = (
                repeated
                if repeated.prompt_tokens
                else StreamUsage(
                    counts.prompt_tokens,
                    completion,
                    cached_tokens=counts.cached_tokens,
                    cache_write_tokens=counts.cache_write_tokens,
                )
            )
            usage.append(counts)
            stop_reason = (event.get("delta") or {}).get("stop_reason")
            if stop_reason == "refusal":
                yield writer.delta({"refusal": REFUSAL})
            answered_only = bool(blocks.answer) and not blocks.calls
            yield writer.delta({}, _finish(stop_reason, answered_only))
        elif kind == "error":
            error = event.get("error") or {}
            yield shapes.error_event(
                str(error.get("message") or "upstream stream error"),
                code=error.get("type") if isinstance(error.get("type"), str) else None,
            )
            return
        elif kind == "message_stop":
            break
        # ping carries nothing for the client.
    if include_usage and usage:
        yield writer.usage(usage[-1])


class AnthropicAdapter:
    name = "anthropic"
    supports_embeddings = False

    def build_chat(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str, stream: bool
    ) -> UpstreamRequest:
        request, adjusted = to_messages_request(body, upstream_model, stream, target)
        return UpstreamRequest(
            "POST",
            target.url(target.paths.chat, upstream_model),
            target.json_headers,
            orjson.dumps(request),
            target.query,
            tuple(adjusted),
        )

    def parse_chat(self, payload: bytes, model: str) -> JSON:
        return to_completion(shapes.load_object(payload, "message"), model)

    parse_error = staticmethod(shapes.error_message)
    stream_chat = staticmethod(to_chunks)

    def build_models(self, target: Target, cursor: str | None) -> UpstreamRequest:
        return shapes.models_request(target, cursor, size="limit", after="after_id")

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

    def parse_embeddings(self, payload: bytes, model: str, body: JSON) -> JSON:
        raise InvalidRequest("this provider does not offer embeddings", param="model")
