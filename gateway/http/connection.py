"""One keep-alive connection to an upstream, and the response it is reading.

A connection carries one request at a time. Its timeouts cost one timer per
request: the timer is set for the earliest deadline that could apply, and when
it fires it checks the deadlines again (data that arrived meanwhile moves the
idle deadline without touching the timer). A body read to its end hands the
connection back to the pool at once, so the caller never has to release it.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable
from typing import cast

from multidict import CIMultiDict

from gateway.http.errors import (
    BodyTooLarge,
    Disconnected,
    HTTPClientError,
    MalformedResponse,
    ReadTimeout,
)
from gateway.http.wire import (
    MAX_HEAD_BYTES,
    ChunkedDecoder,
    Framing,
    ResponseHead,
    head_end,
    parse_head,
)
from gateway.transport import Timeouts

HIGH_WATER_BYTES = 1024 * 1024
"""A stream whose reader lags this far behind stops reading from the socket."""
TIMER_SLACK_S = 0.001
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024


class Response:
    """An upstream's answer: status and headers at once, the body as it arrives."""

    __slots__ = (
        "_chunks",
        "_connection",
        "_done",
        "_error",
        "_max_body",
        "_read_whole",
        "_size",
        "_waiter",
        "headers",
        "reason",
        "status",
    )

    def __init__(self, head: ResponseHead, connection: Connection, max_body: int) -> None:
        self.status = head.status
        self.reason = head.reason
        self.headers: CIMultiDict[str] = head.headers
        self._connection: Connection | None = connection
        self._chunks: list[bytes] = []
        self._size = 0
        self._done = False
        self._error: BaseException | None = None
        self._read_whole = False
        self._max_body = max_body
        self._waiter: asyncio.Future[None] | None = None

    @property
    def content_type(self) -> str:
        """The media type, lower-case and without parameters (as aiohttp reports it)."""
        value = self.headers.get("Content-Type")
        if not value:
            return "application/octet-stream"
        return value.split(";", 1)[0].strip().lower()

    async def read(self) -> bytes:
        """The whole body, up to the size cap. Raises an HTTPClientError (ReadTimeout too)."""
        self._read_whole = True
        if self._size > self._max_body and self._connection is not None:
            self._connection.refuse_body(self._max_body)
        if self._connection is not None:
            self._connection.resume_reading()
        while not self._done:
            if self._error is not None:
                raise self._error
            await self._wait()
        if self._size > self._max_body:  # it all came before read() was called
            raise BodyTooLarge(
                f"the answer is larger than upstream.max_body_bytes ({self._max_body} bytes)"
            )
        body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = []
        return body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body in pieces as they arrive (what has arrived is joined into one piece)."""
        while True:
            if self._chunks:
                chunks = self._chunks
                self._chunks = []
                self._size = 0
                if self._connection is not None:
                    self._connection.resume_reading()
                yield chunks[0] if len(chunks) == 1 else b"".join(chunks)
            elif self._error is not None:
                raise self._error
            elif self._done:
                return
            else:
                await self._wait()

    def close(self) -> None:
        """Abandon the rest of the body: the connection is dropped unless it is already done."""
        connection = self._connection
        if connection is not None:
            self._connection = None
            connection.abort()
            if self._error is None:
                self._error = Disconnected("the response was closed")
            self._wake()

    async def _wait(self) -> None:
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        self._wake()
        if self._size > HIGH_WATER_BYTES and self._connection is not None:
            if not self._read_whole:
                self._connection.pause_reading()
            elif self._size > self._max_body:
                self._connection.refuse_body(self._max_body)

    def _finish(self) -> None:
        self._done = True
        self._connection = None
        self._wake()

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._connection = None
        self._wake()


class Connection(asyncio.Protocol):
    """The protocol of one pooled connection; ``start`` sends a request and awaits its head."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_idle: Callable[[Connection], None],
        on_lost: Callable[[Connection], None],
        max_body: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        """``on_idle``: a response is complete and the connection can carry another.

        ``on_lost``: the connection closed (called once).
        """
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.idle_since = loop.time()
        self.closed = False
        self.leased = False
        """Set by the pool while a request holds the connection."""
        self.reused = False
        """The request in flight is not the connection's first."""
        self.fileno = -1
        """The socket's descriptor, polled before reuse to see a close that came in idle."""
        self._uses = 0
        self._max_body = max_body
        self._answered = False
        self._unsent = False
        self._on_idle = on_idle
        self._on_lost: Callable[[Connection], None] | None = on_lost
        self._head_waiter: asyncio.Future[Response] | None = None
        self._buffer = b""
        self._response: Response | None = None
        self._head: ResponseHead | None = None
        self._remaining = 0
        self._chunked: ChunkedDecoder | None = None
        self._decompressor: zlib._Decompress | None = None
        self._no_body = False
        self._paused = False
        self._timer: asyncio.TimerHandle | None = None
        self._total_at = 0.0
        self._first_byte_at = 0.0
        self._idle_s = 0.0
        self._timeouts: Timeouts | None = None
        self._last_data = 0.0

    # -- used by the pool --------------------------------------------------------

    @property
    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    def start(
        self, head: bytes, body: bytes | None, timeouts: Timeouts, *, no_body: bool
    ) -> asyncio.Future[Response]:
        """Write one request; the future resolves with the response once its head arrived."""
        assert self.transport is not None and self._head_waiter is None
        self.reused = self._uses > 0
        self._uses += 1
        self._answered = False
        loop = self.loop
        now = loop.time()
        self._total_at = now + timeouts.total
        self._first_byte_at = now + timeouts.first_byte
        self._idle_s = timeouts.idle
        self._timeouts = timeouts
        self._no_body = no_body
        waiter = self._head_waiter = loop.create_future()
        self._timer = loop.call_at(min(self._total_at, self._first_byte_at), self._on_timer)
        transport = self.transport
        self._unsent = transport.is_closing()
        if self._unsent:
            self._fail(self._lost_before_answer())
            return waiter
        if body:
            transport.writelines((head, body))
        else:
            transport.write(head)
        # A transport that closes on the write itself sent nothing (the first send failed).
        self._unsent = transport.is_closing()
        return waiter

    def abort(self) -> None:
        """Drop the connection now (a request in flight fails with Disconnected)."""
        self._fail(Disconnected("the request was abandoned"))

    def refuse_body(self, limit: int) -> None:
        """A body read whole is over the cap: fail it and drop the connection."""
        self._fail(
            BodyTooLarge(f"the answer is larger than upstream.max_body_bytes ({limit} bytes)")
        )

    def close(self) -> None:
        """Close an idle connection."""
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            self._lost()

    def pause_reading(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused and self.transport is not None:
            self._paused = False
            self._last_data = self.loop.time()  # the idle timeout counts from here
            self.transport.resume_reading()

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.fileno = sock.fileno()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        response = self._response
        if response is not None and self._head is not None:
            if self._head.framing is Framing.UNTIL_CLOSE and exc is None:
                self._end_body(b"")  # a clean close ends such a body; a reset does not
                self.closed = True
                self._lost()
                return
            self._fail(Disconnected("the connection broke during the answer"))
        elif self._head_waiter is not None:
            self._fail(self._lost_before_answer())
        else:
            self.closed = True
            self._lost()

    def data_received(self, data: bytes) -> None:
        self._answered = True
        try:
            if self._response is not None:
                self._last_data = self.loop.time()
                self._body_received(data)
            elif self._head_waiter is not None:
                self._head_received(data)
            else:
                raise MalformedResponse("the upstream sent bytes nobody asked for")
        except HTTPClientError as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost decides what the EOF meant

    # -- internals -----------------------------------------------------------------

    def _lost_before_answer(self) -> Disconnected:
        error = Disconnected("the connection closed before an answer")
        error.unanswered = not self._answered
        error.unsent = self._unsent
        return error

    def _head_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        while True:
            end, body_at = head_end(buffer)
            if end > MAX_HEAD_BYTES or (end < 0 and len(buffer) > MAX_HEAD_BYTES):
                raise MalformedResponse("the upstream's response head is too large")
            if end < 0:
                self._buffer = buffer
                return
            head = parse_head(buffer[:end], no_body=self._no_body)
            buffer = buffer[body_at:]
            if head.status >= 200:
                break
            if head.status == 101:
                raise MalformedResponse("the upstream switched protocols unasked")
            # 1xx interim answers (100 Continue, 103 Early Hints) are skipped.
        self._buffer = b""
        self._last_data = self.loop.time()
        self._head = head
        response = self._response = Response(head, self, self._max_body)
        encoding = head.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decompressor = zlib.decompressobj(wbits=zlib.MAX_WBITS | 32)
        elif encoding != "identity":
            raise MalformedResponse(
                f"the upstream answered with Content-Encoding {encoding[:40]!r}, which the"
                " gateway did not offer (it asks for identity) and does not decode"
            )
        if head.framing is Framing.CHUNKED:
            self._chunked = ChunkedDecoder()
        self._remaining = head.length
        waiter = self._head_waiter
        self._head_waiter = None
        assert waiter is not None
        if not waiter.done():
            waiter.set_result(response)
        if head.framing is Framing.NONE:
            self._end_body(buffer)
            return
        if buffer:
            self._body_received(buffer)
        timer = self._timer
        if self._response is not None and timer is not None:
            # The body is still coming: the idle deadline may now be the earliest.
            deadline = self._deadline()
            if deadline < timer.when():
                timer.cancel()
                self._timer = self.loop.call_at(deadline, self._on_timer)

    def _body_received(self, data: bytes) -> None:
        head = self._head
        assert head is not None
        framing = head.framing
        if framing is Framing.LENGTH:
            remaining = self._remaining
            if len(data) < remaining:
                self._remaining = remaining - len(data)
                self._deliver(data)
            else:
                self._deliver(data[:remaining])
                self._end_body(data[remaining:])
        elif framing is Framing.CHUNKED:
            decoder = self._chunked
            assert decoder is not None
            for piece in decoder.feed(data):
                self._deliver(piece)
            if decoder.done:
                self._end_body(decoder.leftover)
        else:
            self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        if self._decompressor is not None:
            try:
                data = self._decompressor.decompress(data)
            except zlib.error:
                raise MalformedResponse("the upstream's compressed body is corrupt") from None
        if data and self._response is not None:
            self._response._feed(data)

    def _end_body(self, leftover: bytes) -> None:
        """The body is complete: finish the response, then reuse or close the connection."""
        response = self._response
        head = self._head
        if response is None or head is None:
            return  # the body failed while being delivered (over the size cap)
        if self._decompressor is not None:
            tail = self._decompressor.flush()
            self._decompressor = None
            if tail:
                response._feed(tail)
        self._cancel_timer()
        self._response = None
        self._head = None
        self._chunked = None
        self.resume_reading()
        response._finish()
        if leftover or not head.keep_alive or self.closed:
            if not self.closed:
                self.closed = True
                if self.transport is not None:
                    self.transport.close()
                self._lost()
            return
        self.idle_since = self.loop.time()
        self._on_idle(self)

    def _fail(self, error: BaseException) -> None:
        """End whatever is in flight with ``error`` and drop the connection."""
        self._cancel_timer()
        waiter = self._head_waiter
        response = self._response
        self._head_waiter = None
        self._response = None
        self._head = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if response is not None:
            response._fail(error)
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()
            self._lost()

    def _lost(self) -> None:
        callback = self._on_lost
        self._on_lost = None
        if callback is not None:
            callback(self)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _deadline(self) -> float:
        if self._response is None:
            return min(self._total_at, self._first_byte_at)
        return min(self._total_at, self._last_data + self._idle_s)

    def _timeout_reason(self) -> str:
        timeouts = self._timeouts
        assert timeouts is not None
        if self.loop.time() + TIMER_SLACK_S >= self._total_at:
            return f"the answer took longer than {timeouts.total:g}s"
        if self._response is None:
            return f"no answer within {timeouts.first_byte:g}s"
        return f"the upstream sent nothing for {timeouts.idle:g}s"

    def _on_timer(self) -> None:
        self._timer = None
        if self._response is None and self._head_waiter is None:
            return
        if self._paused:
            # Reading waits for a slow consumer (as aiohttp's read timeout does); only the
            # total deadline applies until it catches up.
            self._last_data = self.loop.time()
        deadline = self._deadline()
        if self.loop.time() + TIMER_SLACK_S >= deadline:
            self._fail(ReadTimeout(self._timeout_reason()))
        else:
            self._timer = self.loop.call_at(deadline, self._on_timer)
