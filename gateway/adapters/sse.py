"""Server-Sent Events from upstreams: the one incremental parser every stream goes through.

It takes byte chunks split anywhere (mid-line, mid-``\\r\\n``) and yields the
``data`` payload of each complete event, following the WHATWG rules that matter
to a relay: ``\\n``, ``\\r\\n`` and ``\\r`` line ends, multi-line ``data``, ``:``
comments. Event names, ids and retry hints are dropped: every adapter reads the
event type from the payload. It stops at ``[DONE]``; an event cut off by the end
of the body is dropped, as the SSE spec says, so a relay never emits half a JSON.

One exception to the spec: some upstreams (Vertex, Gemini) end a failing stream
with a raw JSON error (often ``[{"error": {...}}]`` over several lines) instead of
a ``data:`` line. Such stray lines are kept (up to STRAY_LIMIT bytes) and, when
the body ends and they parse as a JSON object or a list holding one, that object
becomes the last payload, so the adapter sees the error instead of a quiet end.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Final

import orjson

DONE: Final = b"[DONE]"
STRAY_LIMIT: Final = 64 * 1024
_FIELD_STARTS: Final = b":deir"
"""First bytes of SSE lines (comment, data, event, id, retry); any other line is stray."""


class SSEDecoder:
    """Feed it chunks; it returns the data payloads of the events those chunks completed."""

    __slots__ = ("_buffer", "_data", "_pending_cr", "_stray")

    def __init__(self) -> None:
        self._buffer = b""
        self._pending_cr = False
        self._data: list[bytes] = []
        self._stray: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
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
        payloads: list[bytes] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    payloads.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data = self._data = []
            elif line[:5] == b"data:":
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line[0] not in _FIELD_STARTS:
                self._keep_stray(line)
            # comments (":"), event, id and retry lines do not matter to a relay
        return payloads

    def _keep_stray(self, line: bytes) -> None:
        if sum(map(len, self._stray)) + len(line) <= STRAY_LIMIT:
            self._stray.append(line)

    def stray_object(self) -> bytes | None:
        """At the end of the body: the raw JSON object that stray lines held, if any."""
        if self._buffer and self._buffer[0] not in _FIELD_STARTS:
            self._keep_stray(self._buffer)
            self._buffer = b""
        if not self._stray:
            return None
        try:
            value = orjson.loads(b"\n".join(self._stray))
        except orjson.JSONDecodeError:
            return None
        if isinstance(value, list):
            value = next((item for item in value if isinstance(item, dict)), None)
        return orjson.dumps(value) if isinstance(value, dict) else None


async def iter_data(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The ``data`` payloads of a body (``response.iter_chunks()``), up to ``[DONE]``.

    Connection failures and timeouts surface as UpstreamBroken (``timed_out`` tells which).
    """
    decoder = SSEDecoder()
    async for chunk in chunks:
        for payload in decoder.feed(chunk):
            if payload == DONE:
                return
            yield payload
    stray = decoder.stray_object()
    if stray is not None:
        yield stray


async def iter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The raw bytes of complete events (``event:`` lines and all), for a relay that keeps them.

    Yields as soon as a chunk completes one or more events, so bytes flow as they
    come; an event cut off by the end of the body is dropped (never half an event).
    Events end with a blank line written as ``\\n\\n`` or ``\\r\\n\\r\\n``.
    """
    buffer = b""
    async for chunk in chunks:
        buffer = buffer + chunk if buffer else chunk
        lf = buffer.rfind(b"\n\n")
        crlf = buffer.rfind(b"\r\n\r\n")
        end = max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)
        if end:
            yield buffer[:end]
            buffer = buffer[end:]
