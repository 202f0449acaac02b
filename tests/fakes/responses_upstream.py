"""OpenAI's Responses API as the fake OpenAI upstream serves it: POST /v1/responses.

Plain JSON (a ``response`` object) or, with ``stream: true``, SSE with named
typed events carrying ``sequence_number``, as api.openai.com sends them. The
answer follows the fake's ``Reply`` (text or function calls, token counts).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson

from tests.fakes.base import Reply, split_text


def response_object(reply: Reply, body: dict[str, Any], status: str) -> dict[str, Any]:
    """The ``response`` object for ``body``; ``output`` empty unless completed."""
    output: list[dict[str, Any]] = []
    if status == "completed":
        output = list(_items(reply))
    response: dict[str, Any] = {
        "id": "resp_fakeupstream",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body["model"],
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": 1.0,
        "text": body.get("text", {"format": {"type": "text"}}),
        "tool_choice": "auto",
        "tools": body.get("tools", []),
        "top_p": 1.0,
        "truncation": "disabled",
        "metadata": {},
    }
    if status == "completed":
        response["usage"] = _usage(reply)
    return response


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "input_tokens": reply.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 0},
        "output_tokens": reply.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _items(reply: Reply) -> Iterator[dict[str, Any]]:
    if not reply.tool_calls:
        text = {"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}
        yield {
            "type": "message",
            "id": "msg_fake",
            "status": "completed",
            "role": "assistant",
            "content": [text],
        }
    for i, (name, args) in enumerate(reply.tool_calls):
        yield {
            "type": "function_call",
            "id": f"fc_fake{i}",
            "call_id": f"call_fake{i}",
            "name": name,
            "arguments": orjson.dumps(args).decode(),
            "status": "completed",
        }


def stream_events(reply: Reply, body: dict[str, Any]) -> Iterator[bytes]:
    """The SSE events of a streamed response, ``event:`` lines included."""
    seq = iter(range(1_000_000))

    def event(kind: str, **fields: Any) -> bytes:
        data = orjson.dumps({"type": kind, "sequence_number": next(seq), **fields})
        return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

    yield event("response.created", response=response_object(reply, body, "in_progress"))
    yield event("response.in_progress", response=response_object(reply, body, "in_progress"))
    for index, item in enumerate(_items(reply)):
        if item["type"] == "message":
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "content": []},
            )
            empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            yield event("response.content_part.added", **where, part=empty)
            for piece in split_text(reply.text):
                yield event("response.output_text.delta", **where, delta=piece, logprobs=[])
            yield event("response.output_text.done", **where, text=reply.text, logprobs=[])
            yield event("response.content_part.done", **where, part=item["content"][0])
        else:
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "arguments": ""},
            )
            where = {"item_id": item["id"], "output_index": index}
            yield event("response.function_call_arguments.delta", **where, delta=item["arguments"])
            yield event(
                "response.function_call_arguments.done",
                **where,
                name=item["name"],
                arguments=item["arguments"],
            )
        yield event("response.output_item.done", output_index=index, item=item)
    yield event("response.completed", response=response_object(reply, body, "completed"))
