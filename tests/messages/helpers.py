"""Reading Anthropic event streams back, and the rules every stream must keep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson

from gateway.adapters.base import JSON


def parse_events(stream: bytes) -> list[tuple[str, JSON]]:
    """(event name, data) for each SSE event of an Anthropic stream."""
    events = []
    for raw in stream.replace(b"\r\n", b"\n").split(b"\n\n"):
        if not raw.strip():
            continue
        name, data = "", b""
        for line in raw.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[7:].decode()
            elif line.startswith(b"data: "):
                data += line[6:]
        if name or data:
            events.append((name, orjson.loads(data) if data else {}))
    return events


def check_stream(events: list[tuple[str, JSON]]) -> list[JSON]:
    """Assert Anthropic's stream rules; return the content blocks the stream built.

    message_start first; blocks numbered 0, 1, 2, ... each started, filled and
    stopped before the next starts; event name equals data.type; one
    message_delta with a stop reason, then message_stop last; tool inputs
    concatenate to JSON objects.
    """
    names = [name for name, _ in events if name != "ping"]
    assert names[0] == "message_start", names
    assert names[-2:] == ["message_delta", "message_stop"], names
    assert all(name == data["type"] for name, data in events)
    blocks: list[JSON] = []
    partial: dict[int, str] = {}
    open_index: int | None = None
    for name, data in events:
        if name == "content_block_start":
            assert open_index is None, f"block {data['index']} starts while {open_index} is open"
            assert data["index"] == len(blocks), (data["index"], len(blocks))
            open_index = data["index"]
            blocks.append(dict(data["content_block"]))
            partial[open_index] = ""
        elif name == "content_block_delta":
            assert data["index"] == open_index, (data, open_index)
            block, delta = blocks[data["index"]], data["delta"]
            kind = delta["type"]
            if kind == "text_delta":
                assert block["type"] == "text"
                block["text"] += delta["text"]
            elif kind == "thinking_delta":
                assert block["type"] == "thinking"
                block["thinking"] += delta["thinking"]
            elif kind == "signature_delta":
                assert block["type"] == "thinking"
                block["signature"] = block.get("signature", "") + delta["signature"]
            else:
                assert kind == "input_json_delta" and block["type"] == "tool_use"
                partial[data["index"]] += delta["partial_json"]
        elif name == "content_block_stop":
            assert data["index"] == open_index
            block = blocks[open_index]
            if block["type"] == "tool_use":
                block["input"] = orjson.loads(partial[open_index] or "{}")
                assert isinstance(block["input"], dict)
            open_index = None
        elif name == "message_delta":
            assert open_index is None, "message_delta while a block is open"
            assert data["delta"]["stop_reason"] is not None
    return blocks


def final_delta(events: list[tuple[str, JSON]]) -> JSON:
    return next(data for name, data in events if name == "message_delta")


async def aiter(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item
