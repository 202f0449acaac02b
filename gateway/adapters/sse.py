"""Server-Sent Events: an incremental parser for upstream streams and the encoder we send.

The parser takes byte chunks split anywhere (mid-line, mid-``\\r\\n``) and yields
complete events; it follows the WHATWG rules that matter here: ``\\n``, ``\\r\\n``
and ``\\r`` line ends, multi-line ``data``, ``:`` comments, ``event:`` names.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, NamedTuple

import orjson

DONE = b"data: [DONE]\n\n"
KEEP_ALIVE = b": keep-alive\n\n"


class SSEEvent(NamedTuple):
    data: bytes
    event: str = "message"


class SSEDecoder:
    """Feed it chunks; it returns the events those chunks completed."""

    __slots__ = ("_buffer", "_data", "_event", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._pending_cr = False
        self._data: list[bytes] = []
        self._event = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            # A trailing \r ends a line; a \n opening the next chunk belongs to it.
            self._pending_cr = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            self._line(line, events)
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: dispatch a final event even if its blank line never came."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(self._buffer, events)
            self._buffer = b""
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(SSEEvent(b"\n".join(self._data), self._event or "message"))
                self._data = []
            self._event = ""
            return
        if line[0] == 58:  # b":" comment
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        # id and retry do not matter to a relay.


async def iter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[SSEEvent]:
    """Events from a byte stream (e.g. ``response.content.iter_any()``)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


async def iter_data(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Only the ``data`` payloads, which is what ``Adapter.stream_chat`` consumes."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event.data
    for event in decoder.close():
        yield event.data


def encode(data: bytes, event: str | None = None) -> bytes:
    """One event; every line of a multi-line payload gets its own ``data:``."""
    if b"\n" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\ndata: ")
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + data + b"\n\n"


def encode_json(payload: Any) -> bytes:
    """``data: {json}\\n\\n`` (orjson never emits raw newlines)."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def comment(text: str) -> bytes:
    return b": " + text.encode() + b"\n\n"
