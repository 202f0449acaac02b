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

Work is linear in the bytes fed: only the new chunk is scanned for line ends, and
a line that spans chunks is kept as pieces joined once. A line or an event larger
than ``max_event_bytes`` raises EventTooLarge instead of growing without bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Final

import orjson

from gateway.errors import UpstreamError

DONE: Final = b"[DONE]"
DEFAULT_MAX_EVENT_BYTES: Final = 32 * 1024 * 1024
STRAY_LIMIT: Final = 64 * 1024
_FIELD_STARTS: Final = b":deir"
"""First bytes of SSE lines (comment, data, event, id, retry); any other line is stray."""


class EventTooLarge(UpstreamError):
    """The upstream sent one SSE line or event larger than ``upstream.max_event_bytes``."""

    default_code = "upstream_event_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The provider sent a stream event larger than {limit} bytes "
            "(upstream.max_event_bytes); the stream was stopped."
        )


class SSEDecoder:
    """Feed it chunks; it returns the data payloads of the events those chunks completed."""

    __slots__ = (
        "_data",
        "_data_size",
        "_failed",
        "_max",
        "_partial",
        "_partial_size",
        "_pending_cr",
        "_stray",
        "_stray_size",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._partial: list[bytes] = []
        """Pieces of a line not yet ended, joined once when its end arrives."""
        self._partial_size = 0
        self._pending_cr = False
        self._data: list[bytes] = []
        self._data_size = 0
        self._failed: EventTooLarge | None = None
        self._stray: list[bytes] = []
        self._stray_size = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """The payloads ``chunk`` completed; EventTooLarge once they are all out."""
        self.finish()
        if not chunk:
            return []
        payloads: list[bytes] = []
        try:
            self._feed(chunk, payloads)
        except EventTooLarge as exc:
            if not payloads:
                raise
            self._failed = exc  # the events before the oversized one still go out
        return payloads

    def finish(self) -> None:
        """Raise the EventTooLarge held back for the payloads that preceded it."""
        if self._failed is not None:
            raise self._failed

    def _feed(self, chunk: bytes, payloads: list[bytes]) -> None:
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            # A trailing \r ends a line; a \n opening the next chunk belongs to it.
            self._pending_cr = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            self._hold(chunk)
            return
        lines = chunk.split(b"\n")
        if self._partial:
            if self._partial_size + len(lines[0]) > self._max:
                raise EventTooLarge(self._max)
            self._partial.append(lines[0])
            lines[0] = b"".join(self._partial)
            self._partial = []
            self._partial_size = 0
        tail = lines.pop()
        huge = len(chunk) > self._max  # only then can a line inside it be over the cap
        data = self._data
        for line in lines:
            if huge and len(line) > self._max:
                raise EventTooLarge(self._max)
            if not line:
                if data:
                    payloads.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data = self._data = []
                    self._data_size = 0
            elif line[:5] == b"data:":
                value = line[6:] if line[5:6] == b" " else line[5:]
                data.append(value)
                if len(data) > 1:
                    self._data_size += len(value) + 1
                    if self._data_size > self._max:
                        raise EventTooLarge(self._max)
                else:
                    self._data_size = len(value)
            elif line[0] not in _FIELD_STARTS:
                self._keep_stray(line)
            # comments (":"), event, id and retry lines do not matter to a relay
        if tail:
            self._hold(tail)

    def _keep_stray(self, line: bytes) -> None:
        if self._stray_size + len(line) <= STRAY_LIMIT:
            self._stray.append(line)
            self._stray_size += len(line)

    def stray_object(self) -> bytes | None:
        """At the end of the body: the raw JSON object that stray lines held, if any."""
        if self._partial:
            line = b"".join(self._partial)
            self._partial, self._partial_size = [], 0
            if line[0] not in _FIELD_STARTS:
                self._keep_stray(line)
        if not self._stray:
            return None
        try:
            value = orjson.loads(b"\n".join(self._stray))
        except orjson.JSONDecodeError:
            return None
        if isinstance(value, list):
            value = next((item for item in value if isinstance(item, dict)), None)
        return orjson.dumps(value) if isinstance(value, dict) else None

    def _hold(self, piece: bytes) -> None:
        """Keep the start of a line that has not ended yet, up to the cap."""
        self._partial_size += len(piece)
        if self._partial_size > self._max:
            raise EventTooLarge(self._max)
        self._partial.append(piece)


async def iter_data(
    chunks: AsyncIterable[bytes], max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> AsyncIterator[bytes]:
    """The ``data`` payloads of a body (``response.iter_chunks()``), up to ``[DONE]``.

    Connection failures and timeouts surface as UpstreamBroken (``timed_out`` tells which),
    a line or event over ``max_event_bytes`` as EventTooLarge.
    """
    decoder = SSEDecoder(max_event_bytes)
    async for chunk in chunks:
        for payload in decoder.feed(chunk):
            if payload == DONE:
                return
            yield payload
    decoder.finish()
    stray = decoder.stray_object()
    if stray is not None:
        yield stray


async def iter_events(
    chunks: AsyncIterable[bytes], max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> AsyncIterator[bytes]:
    """The raw bytes of complete events (``event:`` lines and all), for a relay that keeps them.

    Yields as soon as a chunk completes one or more events, so bytes flow as they
    come; an event cut off by the end of the body is dropped (never half an event).
    Events end with a blank line written as ``\\n\\n`` or ``\\r\\n\\r\\n``. Only the new
    chunk (and the three bytes held before it) is searched, so the work is linear;
    holding more than ``max_event_bytes`` of one unfinished event raises EventTooLarge.
    """
    held: list[bytes] = []
    held_size = 0
    tail = b""  # the last bytes held: an event's end may straddle two chunks
    async for chunk in chunks:
        window = tail + chunk
        lf = window.rfind(b"\n\n")
        crlf = window.rfind(b"\r\n\r\n")
        end = max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0) - len(tail)
        if end > 0:
            held.append(chunk[:end])
            yield b"".join(held)
            rest = chunk[end:]
            held, held_size, tail = ([rest] if rest else []), len(rest), rest[-3:]
        else:
            held.append(chunk)
            held_size += len(chunk)
            tail = window[-3:]
        if held_size > max_event_bytes:
            raise EventTooLarge(max_event_bytes)
