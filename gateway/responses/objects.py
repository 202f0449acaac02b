"""Response objects (``object: "response"``) built from a chat answer, as OpenAI shapes them.

The request's settings are echoed the way OpenAI echoes them; output items are
``reasoning`` (summary text), ``message`` (``output_text`` parts) and
``function_call`` items, in that order.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Final

from gateway.adapters.base import JSON, StreamUsage
from gateway.responses.request import ResponsesRequest

INCOMPLETE: Final = {"length": "max_output_tokens", "content_filter": "content_filter"}
"""Chat finish reasons that make a response ``incomplete``, and the reason OpenAI names."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def response_usage(usage: StreamUsage) -> JSON:
    """OpenAI's ResponseUsage (cache writes as Anthropic reports them; 0 elsewhere)."""
    details = {"cached_tokens": usage.cached_tokens, "cache_write_tokens": usage.cache_write_tokens}
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": details,
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


class Draft:
    """One response being made: its id, creation time and the request's echoed settings."""

    __slots__ = ("created_at", "echo", "id", "model")

    def __init__(self, request: ResponsesRequest) -> None:
        body = request.body
        self.id = new_id("resp")
        self.created_at = int(time.time())
        self.model = request.model
        text = body.get("text") if isinstance(body.get("text"), dict) else None
        reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else None
        self.echo: JSON = {
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {},
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": request.previous_response_id,
            "reasoning": {"effort": (reasoning or {}).get("effort"), "summary": None},
            "store": request.store,
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, **(text or {})},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": [_echoed(tool) for tool in body.get("tools") or ()],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
        }
        if isinstance(body.get("user"), str):
            self.echo["user"] = body["user"]

    def response(
        self,
        status: str,
        output: list[JSON],
        usage: StreamUsage | None = None,
        *,
        finish_reason: str | None = None,
        error: JSON | None = None,
    ) -> JSON:
        """The response object in ``status``; a length/content-filter stop makes it incomplete."""
        incomplete = INCOMPLETE.get(finish_reason or "")
        if status == "completed" and incomplete:
            status = "incomplete"
        response: JSON = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error,
            "incomplete_details": {"reason": incomplete} if status == "incomplete" else None,
            "model": self.model,
            "output": output,
            **self.echo,
        }
        if usage is not None:  # absent, not null, until there is one (as OpenAI sends it)
            response["usage"] = response_usage(usage)
        return response


def _echoed(tool: Any) -> Any:
    """A function tool as OpenAI echoes it: ``strict`` and ``parameters`` always present."""
    if isinstance(tool, dict) and tool.get("type") == "function":
        return {"strict": None, "parameters": None, **tool}
    return tool


def output_items(message: JSON) -> list[JSON]:
    """A chat answer's message as output items: reasoning, message, function calls."""
    items: list[JSON] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        items.append(reasoning_item(new_id("rs"), reasoning))
    parts: list[JSON] = []
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append(text_part(content))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append({"type": "refusal", "refusal": refusal})
    if parts:
        items.append(message_item(new_id("msg"), parts, "completed"))
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            call_id = call.get("id") or new_id("call")
            items.append(
                call_item(
                    new_id("fc"),
                    str(call_id),
                    str(function.get("name", "")),
                    str(function.get("arguments") or ""),
                    "completed",
                )
            )
    return items


def text_part(text: str) -> JSON:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, content: list[JSON], status: str) -> JSON:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": content,
    }


def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> JSON:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def reasoning_item(item_id: str, text: str | None) -> JSON:
    summary = [] if text is None else [{"type": "summary_text", "text": text}]
    return {"type": "reasoning", "id": item_id, "summary": summary}


def from_completion(draft: Draft, completion: JSON) -> JSON:
    """A chat.completion as the finished response object."""
    choices = completion.get("choices") or [{}]
    choice: Any = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    counts = completion.get("usage")
    usage = StreamUsage.from_openai(counts) if isinstance(counts, dict) else StreamUsage()
    return draft.response(
        "completed", output_items(message), usage, finish_reason=choice.get("finish_reason")
    )


def input_resources(items: list[JSON]) -> list[JSON]:
    """Input items as stored and listed (``input_items``): each with an id, text as parts."""
    out = []
    for item in items:
        kind = item.get("type", "message")
        if kind != "message":
            prefix = {"function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}
            out.append({"id": new_id(prefix.get(kind, "item")), **item})
            continue
        role = item.get("role")
        content = item.get("content")
        if isinstance(content, str):
            part = text_part(content) if role == "assistant" else {"type": "input_text"}
            content = [{**part, "text": content}]
        resource = {"type": "message", "id": item.get("id") or new_id("msg"), "role": role}
        resource["content"] = content
        if role == "assistant":
            resource["status"] = "completed"
        out.append(resource)
    return out
