"""chat.completion.chunk objects -> Anthropic's Messages event stream.

Anthropic's clients assume what other gateways have been caught breaking:
blocks are numbered 0, 1, 2, ... in order and never overlap (one open at a
time, each closed before the next starts); every tool call is its own
``tool_use`` block whose ``input_json_delta`` pieces concatenate to its JSON
input, even when the upstream sends the arguments whole (Gemini) or
interleaves the fragments of parallel calls (OpenAI); text after a tool call
opens a new block; ``message_delta`` carries the stop reason and the usage,
which chat upstreams send last.

A tool call's block stays open until its arguments parse as JSON and another
call starts, or until anything else arrives; calls whose fragments come while
another block is open are held and told in order once it closes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Final

import orjson

from gateway.adapters.base import JSON, StreamUsage
from gateway.adapters.shapes import new_id
from gateway.messages import ids
from gateway.messages.answer import message_id, stop_reason, usage

logger = logging.getLogger("gateway.messages")

PIECE: Final = 512
"""Longest ``input_json_delta``: arguments that arrive whole are told in pieces this long."""
PING: Final = b'event: ping\ndata: {"type":"ping"}\n\n'
STOP: Final = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def event(name: str, payload: JSON) -> bytes:
    """One SSE event, its name both in ``event:`` (the SDKs dispatch on it) and in ``type``."""
    return (
        b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **payload}) + b"\n\n"
    )


def error_event(kind: str, message: str) -> bytes:
    return event("error", {"error": {"type": kind, "message": message}})


class _Call:
    """One upstream tool call: its block index once opened, and arguments held until then."""

    __slots__ = ("arguments", "held", "id", "index", "name")

    def __init__(self, id_: str, name: str) -> None:
        self.id = id_
        self.name = name
        self.index = -1
        """Its block index; -1 while held."""
        self.arguments: list[str] = []
        """Every fragment so far (to tell whether the arguments are complete)."""
        self.held: list[str] = []
        """Fragments not yet sent (the call is held behind another block)."""

    def complete(self) -> bool:
        try:
            orjson.loads("".join(self.arguments))
        except orjson.JSONDecodeError:
            return False
        return True


class Blocks:
    """The content blocks of one message: opens, fills and closes them in order."""

    __slots__ = ("calls", "count", "open", "open_call", "queue", "signature")

    def __init__(self) -> None:
        self.count = 0
        """Blocks started so far; the next one gets this index."""
        self.open: str | None = None
        """The type of the open block, if any."""
        self.open_call: _Call | None = None
        self.calls: dict[int, _Call] = {}
        """By the upstream's tool-call index."""
        self.queue: list[_Call] = []
        """Calls waiting for the open block to close, in order of arrival."""
        self.signature = ""

    def _start(self, block: JSON) -> bytes:
        self.open = block["type"]
        index = self.count
        self.count += 1
        return event("content_block_start", {"index": index, "content_block": block})

    def _delta(self, delta: JSON) -> bytes:
        return event("content_block_delta", {"index": self.count - 1, "delta": delta})

    def close(self) -> bytes:
        """Close the open block (a thinking block with its signature first), if any."""
        if self.open is None:
            return b""
        out = b""
        if self.open == "thinking" and self.signature:
            out = self._delta({"type": "signature_delta", "signature": self.signature})
            self.signature = ""
        self.open = None
        self.open_call = None
        return out + event("content_block_stop", {"index": self.count - 1})

    def settle(self) -> bytes:
        """Close the open block and tell every held tool call (before other content, at the end)."""
        out = self.close()
        while self.queue:
            out += self._open_call(self.queue.pop(0)) + self.close()
        return out

    def text(self, text: str) -> bytes:
        out = b""
        if self.open != "text":
            out = self.settle() + self._start({"type": "text", "text": ""})
        return out + self._delta({"type": "text_delta", "text": text})

    def thinking(self, text: str) -> bytes:
        out = b""
        if self.open != "thinking":
            out = self.settle() + self._start({"type": "thinking", "thinking": "", "signature": ""})
        return out + self._delta({"type": "thinking_delta", "thinking": text})

    def signed(self, block: JSON) -> bytes:
        """A whole thinking block as chat carries it (``thinking_blocks``), after its text.

        A signature belongs to the open thinking block and is sent as it closes;
        a redacted block is a block of its own.
        """
        if block.get("type") == "thinking":
            signature = block.get("signature")
            if self.open == "thinking" and isinstance(signature, str):
                self.signature += signature
            return b""
        if block.get("type") != "redacted_thinking":
            return b""
        out = self.settle()
        out += self._start({"type": "redacted_thinking", "data": str(block.get("data") or "")})
        return out + self.close()

    def _open_call(self, call: _Call) -> bytes:
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        out = self._start(block)
        call.index = self.count - 1
        self.open_call = call
        held, call.held = call.held, []
        return out + b"".join(self._arguments(piece) for piece in held)

    def _arguments(self, fragment: str) -> bytes:
        return b"".join(
            self._delta({"type": "input_json_delta", "partial_json": fragment[i : i + PIECE]})
            for i in range(0, len(fragment), PIECE)
        )

    def tool(self, delta: JSON) -> bytes:
        """One tool-call delta (an upstream may interleave several calls)."""
        position = delta.get("index")
        if not isinstance(position, int):
            position = len(self.calls)
        function = delta.get("function")
        if not isinstance(function, dict):
            function = {}
        call = self.calls.get(position)
        out = b""
        if call is None:
            call_id = ids.tool_use_id(delta.get("id") or new_id("toolu_"), ids.signature_of(delta))
            call = _Call(call_id, function.get("name") or "")
            self.calls[position] = call
            current = self.open_call
            if current is None:
                out = self.settle() + self._open_call(call)
            elif current.complete() and not self.queue:
                out = self.close() + self._open_call(call)
            else:
                self.queue.append(call)
        fragment = function.get("arguments")
        if not isinstance(fragment, str) or not fragment:
            return out
        call.arguments.append(fragment)
        if call is self.open_call:
            return out + self._arguments(fragment)
        if call.index < 0:
            call.held.append(fragment)
        elif fragment.strip():
            logger.warning("provider sent tool arguments after the call's block closed; dropped")
        return out


async def message_events(
    chunks: AsyncIterator[JSON],
    model: str,
    stop_sequences: tuple[str, ...],
    seen: list[StreamUsage],
) -> AsyncGenerator[bytes, None]:
    """Anthropic's events for a chat chunk stream; ``seen`` is the adapter's running usage."""
    blocks = Blocks()
    start: JSON = {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    started = False
    finish: Any = None
    matched: Any = None
    cache_known = False
    async for chunk in chunks:
        out = b""
        if not started:
            started = True
            counts = seen[-1] if seen else StreamUsage()
            opening = {**start, "usage": {**usage(counts, cache_known=False), "output_tokens": 0}}
            out = event("message_start", {"message": opening}) + PING
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                out += _delta(blocks, delta)
            if choice.get("finish_reason"):
                finish, matched = choice["finish_reason"], choice.get("stop_reason")
        counts_json = chunk.get("usage")
        if isinstance(counts_json, dict):
            details = counts_json.get("prompt_tokens_details")
            cache_known = isinstance(details, dict) and "cached_tokens" in details
        if out:
            yield out
    out = b""
    if not started:
        out = event(
            "message_start",
            {"message": {**start, "usage": usage(StreamUsage(), cache_known=False)}},
        )
    reason, sequence = stop_reason(finish, matched, stop_sequences)
    final = seen[-1] if seen else StreamUsage()
    yield (
        out
        + blocks.settle()
        + event(
            "message_delta",
            {
                "delta": {"stop_reason": reason, "stop_sequence": sequence},
                "usage": usage(final, cache_known=cache_known),
            },
        )
        + STOP
    )


def _delta(blocks: Blocks, delta: JSON) -> bytes:
    """The events for one chat delta, in the order a message tells them."""
    out = b""
    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        out += blocks.thinking(reasoning)
    for block in delta.get("thinking_blocks") or ():
        if isinstance(block, dict):
            out += blocks.signed(block)
    content = delta.get("content") or delta.get("refusal")
    if isinstance(content, str) and content:
        out += blocks.text(content)
    for call in delta.get("tool_calls") or ():
        if isinstance(call, dict):
            out += blocks.tool(call)
    return out
