"""A normalized chat.completion as an Anthropic Message, and the pieces streams share.

Reasoning becomes a ``thinking`` block (first; Anthropic's own signed blocks when
the chat answer carries them in ``thinking_blocks``), text a ``text`` block, each
tool call a ``tool_use`` block. ``finish_reason`` -> ``stop_reason``: stop ->
``end_turn``, or ``stop_sequence`` when the upstream names which of the
request's sequences matched (vLLM's ``stop_reason``; OpenAI and Gemini do not
say); length -> ``max_tokens``; tool_calls -> ``tool_use``; content_filter ->
``refusal``. Usage: OpenAI's prompt count includes cached tokens, Anthropic's
``input_tokens`` does not, so cached ones move to ``cache_read_input_tokens``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from gateway.adapters.base import JSON, StreamUsage
from gateway.adapters.shapes import new_id
from gateway.messages import ids

logger = logging.getLogger("gateway.messages")

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def message_id() -> str:
    return new_id("msg_")


def stop_reason(
    finish: Any, matched: Any, stop_sequences: tuple[str, ...]
) -> tuple[str, str | None]:
    """(stop_reason, stop_sequence) for a chat finish reason and the stop string, if known."""
    if finish == "stop" and isinstance(matched, str) and matched in stop_sequences:
        return "stop_sequence", matched
    reason = STOP_REASONS.get(finish) if isinstance(finish, str) else None
    return reason or "end_turn", None


def usage(counts: StreamUsage, *, cache_known: bool) -> JSON:
    """Anthropic's usage object; cache fields only when the provider reports them.

    Anthropic's ``input_tokens`` leaves out the cache reads and writes, which chat's
    ``prompt_tokens`` includes.
    """
    written = counts.cache_write_tokens
    out: JSON = {
        "input_tokens": max(0, counts.prompt_tokens - counts.cached_tokens - written),
        "output_tokens": counts.completion_tokens,
    }
    if cache_known:
        out["cache_read_input_tokens"] = counts.cached_tokens
    if written:
        out["cache_creation_input_tokens"] = written
    return out


def tool_input(arguments: Any) -> JSON:
    """Chat tool-call arguments (a JSON string) as a tool_use input object."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        logger.warning("provider sent tool arguments that are not JSON; passed as {}")
        return {}
    return value if isinstance(value, dict) else {}


def thinking_blocks(blocks: Any) -> list[JSON]:
    """Anthropic's own thinking blocks carried through chat (``thinking_blocks``), signed."""
    out: list[JSON] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "thinking":
            out.append(
                {
                    "type": "thinking",
                    "thinking": str(block.get("thinking") or ""),
                    "signature": str(block.get("signature") or ""),
                }
            )
        elif block.get("type") == "redacted_thinking":
            out.append({"type": "redacted_thinking", "data": str(block.get("data") or "")})
    return out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # text parts, as some servers answer
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def to_message(completion: JSON, model: str, stop_sequences: tuple[str, ...]) -> JSON:
    """A chat.completion (from any adapter) -> an Anthropic Message."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    reply = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(reply, dict):
        reply = {}
    content = thinking_blocks(reply.get("thinking_blocks"))
    reasoning = reply.get("reasoning_content") or reply.get("reasoning")
    if not content and isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = _text(reply.get("content")) or _text(reply.get("refusal"))
    if text:
        content.append({"type": "text", "text": text})
    for call in reply.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        content.append(
            {
                "type": "tool_use",
                "id": ids.tool_use_id(call.get("id") or new_id("toolu_"), ids.signature_of(call)),
                "name": function.get("name") or "",
                "input": tool_input(function.get("arguments")),
            }
        )
    reason, sequence = stop_reason(
        choice.get("finish_reason"), choice.get("stop_reason"), stop_sequences
    )
    counts = completion.get("usage")
    if not isinstance(counts, dict):
        counts = {}
    details = counts.get("prompt_tokens_details")
    return {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage(
            StreamUsage.from_openai(counts),
            cache_known=isinstance(details, dict) and "cached_tokens" in details,
        ),
    }
