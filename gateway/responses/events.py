"""A stream of chat.completion.chunk objects told as the Responses API's typed SSE events.

Events go out as ``event: <type>`` plus ``data: {...}`` with a ``sequence_number``
counting from 0, in OpenAI's order: ``response.created``, ``response.in_progress``,
then per output item ``output_item.added``, its parts and deltas, ``.done`` events,
``output_item.done``; finally ``response.completed`` (or ``response.incomplete``).
A failure ends the stream with ``error`` and ``response.failed``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson

from gateway.adapters.base import JSON, StreamUsage
from gateway.responses.objects import (
    Draft,
    call_item,
    message_item,
    new_id,
    reasoning_item,
    text_part,
)
from gateway.usage import combined


class _Item:
    """One output item being streamed: its index, id and what it has gathered so far."""

    __slots__ = ("call_id", "id", "index", "kind", "name", "text")

    def __init__(self, kind: str, index: int, item_id: str) -> None:
        self.kind = kind
        self.index = index
        self.id = item_id
        self.text: list[str] = []
        self.call_id = ""
        self.name = ""

    def done(self) -> JSON:
        text = "".join(self.text)
        if self.kind == "message":
            return message_item(self.id, [text_part(text)], "completed")
        if self.kind == "reasoning":
            return reasoning_item(self.id, text)
        return call_item(self.id, self.call_id, self.name, text, "completed")


class EventStream:
    """Writes one response's events; holds the final response object once it is over."""

    __slots__ = ("_calls", "_open", "_seq", "draft", "final", "output", "started")

    def __init__(self, draft: Draft) -> None:
        self.draft = draft
        self._seq = 0
        self._open: _Item | None = None
        """The open reasoning or message item (tool calls stay open until the end)."""
        self._calls: dict[int, _Item] = {}
        self.output: list[JSON] = []
        """Finished output items, in output order (placeholders while open)."""
        self.final: JSON | None = None
        self.started = False

    def skip(self, events: int) -> None:
        """Count events sent by someone else (a native upstream) so numbering continues."""
        self._seq += events

    def event(self, kind: str, **fields: Any) -> bytes:
        data = orjson.dumps({"type": kind, "sequence_number": self._seq, **fields})
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

    def start(self) -> bytes:
        self.started = True
        opening = self.draft.response("in_progress", [])
        return self.event("response.created", response=opening) + self.event(
            "response.in_progress", response=opening
        )

    async def events(
        self, chunks: AsyncIterator[JSON], usage: list[StreamUsage]
    ) -> AsyncGenerator[bytes, None]:
        """The whole event stream for ``chunks``; ``usage`` is the adapter's running count."""
        yield self.start()
        finish: str | None = None
        async for chunk in chunks:
            out = b""
            for choice in chunk.get("choices") or ():
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    out += self._delta(delta)
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            counts = chunk.get("usage")
            if isinstance(counts, dict):
                usage.append(StreamUsage.from_openai(counts))
            if out:
                yield out
        yield self.finish(finish, combined(usage) if usage else StreamUsage())

    def _delta(self, delta: JSON) -> bytes:
        out = b""
        reasoning = delta.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            out += self._text("reasoning", reasoning)
        content = delta.get("content")
        if isinstance(content, str) and content:
            out += self._text("message", content)
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                out += self._call(call)
        return out

    def _text(self, kind: str, text: str) -> bytes:
        out = b""
        item = self._open
        if item is None or item.kind != kind:
            out += self._close_open()
            item = self._open = self._add(kind)
            if kind == "message":
                added = message_item(item.id, [], "in_progress")
                out += self.event("response.output_item.added", output_index=item.index, item=added)
                out += self.event(
                    "response.content_part.added",
                    item_id=item.id,
                    output_index=item.index,
                    content_index=0,
                    part=text_part(""),
                )
            else:
                added = reasoning_item(item.id, None)
                out += self.event("response.output_item.added", output_index=item.index, item=added)
                out += self.event(
                    "response.reasoning_summary_part.added",
                    item_id=item.id,
                    output_index=item.index,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                )
        item.text.append(text)
        where = {"item_id": item.id, "output_index": item.index}
        if kind == "message":
            return out + self.event(
                "response.output_text.delta", **where, content_index=0, delta=text, logprobs=[]
            )
        return out + self.event(
            "response.reasoning_summary_text.delta", **where, summary_index=0, delta=text
        )

    def _call(self, call: JSON) -> bytes:
        out = b""
        index = call.get("index", 0)
        found = call.get("function")
        function: JSON = found if isinstance(found, dict) else {}
        item = self._calls.get(index)
        if item is None:
            out += self._close_open()
            item = self._calls[index] = self._add("function_call")
            item.call_id = str(call.get("id") or new_id("call"))
            item.name = str(function.get("name") or "")
            added = call_item(item.id, item.call_id, item.name, "", "in_progress")
            out += self.event("response.output_item.added", output_index=item.index, item=added)
        fragment = function.get("arguments")
        if isinstance(fragment, str) and fragment:
            item.text.append(fragment)
            out += self.event(
                "response.function_call_arguments.delta",
                item_id=item.id,
                output_index=item.index,
                delta=fragment,
            )
        return out

    def _add(self, kind: str) -> _Item:
        prefix = {"message": "msg", "reasoning": "rs", "function_call": "fc"}[kind]
        item = _Item(kind, len(self.output), new_id(prefix))
        self.output.append({})
        return item

    def _close_open(self) -> bytes:
        item = self._open
        if item is None:
            return b""
        self._open = None
        return self._close(item)

    def _close(self, item: _Item) -> bytes:
        done = item.done()
        self.output[item.index] = done
        text = "".join(item.text)
        where = {"item_id": item.id, "output_index": item.index}
        if item.kind == "message":
            out = self.event(
                "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
            )
            out += self.event(
                "response.content_part.done", **where, content_index=0, part=done["content"][0]
            )
        elif item.kind == "reasoning":
            part = {"type": "summary_text", "text": text}
            out = self.event(
                "response.reasoning_summary_text.done", **where, summary_index=0, text=text
            )
            out += self.event(
                "response.reasoning_summary_part.done", **where, summary_index=0, part=part
            )
        else:
            out = self.event(
                "response.function_call_arguments.done", **where, name=item.name, arguments=text
            )
        return out + self.event("response.output_item.done", output_index=item.index, item=done)

    def _close_all(self) -> bytes:
        out = self._close_open()
        for item in sorted(self._calls.values(), key=lambda i: i.index):
            out += self._close(item)
        self._calls = {}
        return out

    def finish(self, finish_reason: str | None, usage: StreamUsage) -> bytes:
        """Close every item, then ``response.completed`` or ``response.incomplete``."""
        out = self._close_all()
        final = self.draft.response("completed", self.output, usage, finish_reason=finish_reason)
        self.final = final
        return out + self.event(f"response.{final['status']}", response=final)

    def failed(self, error: JSON) -> bytes:
        """``error`` then ``response.failed`` for an OpenAI error object ``{"error": {...}}``."""
        found = error.get("error")
        detail: JSON = found if isinstance(found, dict) else {}
        message = str(detail.get("message") or "The provider failed.")
        code = detail.get("code") if isinstance(detail.get("code"), str) else None
        out = self.event("error", code=code, message=message, param=detail.get("param"))
        code = "rate_limit_exceeded" if code == "rate_limit_exceeded" else "server_error"
        items = [item for item in self.output if item]
        final = self.draft.response("failed", items, error={"code": code, "message": message})
        self.final = final
        return out + self.event("response.failed", response=final)
