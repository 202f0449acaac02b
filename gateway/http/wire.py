"""HTTP/1.1 on the wire: the request head we write, the response head and body framing we read.

Pure functions and one small state machine, so that every parsing rule can be
tested without a socket. Framing follows RFC 9112 section 6.3.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from multidict import CIMultiDict

from gateway.http.errors import MalformedResponse

MAX_HEAD_BYTES = 64 * 1024
MAX_CHUNK_LINE_BYTES = 4096
HEX_DIGITS = b"0123456789abcdefABCDEF"
FORBIDDEN_IN_HEADERS = ("\r", "\n", "\x00")
TOKEN_CHARS = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""What a header name may be made of (RFC 9110 5.1: a token)."""
FRAMING_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "upgrade",
    }
)
"""Headers the client writes itself (RFC 9110 7.6.1, RFC 9112): a caller's are dropped."""


class Framing(enum.Enum):
    """How the end of a response body is found."""

    NONE = "none"
    LENGTH = "length"
    CHUNKED = "chunked"
    UNTIL_CLOSE = "until-close"


@dataclass(slots=True)
class ResponseHead:
    """A parsed status line and header block, and what they say about the body."""

    status: int
    reason: str
    headers: CIMultiDict[str]
    framing: Framing
    length: int
    keep_alive: bool


def header_block(headers: Mapping[str, str]) -> bytes:
    """``Name: value`` lines for ``headers``; refuses names or values that could split a line."""
    names = "".join(headers)
    values = "".join(headers.values())
    for bad in FORBIDDEN_IN_HEADERS:
        if bad in names or bad in values:
            raise ValueError("a header name or value contains a control character")
    if any(not name or name.encode().translate(None, TOKEN_CHARS) for name in headers):
        raise ValueError("a header name is empty or not a token")
    return "".join([f"{name}: {value}\r\n" for name, value in headers.items()]).encode()


def head_end(buffer: bytes) -> tuple[int, int]:
    """Where a response head ends and its body starts, or (-1, -1) while incomplete.

    The blank line is CRLF CRLF, or bare LFs (RFC 9112 2.2 lets a recipient accept them).
    """
    end = buffer.find(b"\r\n\r\n")
    bare = buffer.find(b"\n\n", 0, end if end >= 0 else len(buffer))
    mixed = buffer.find(b"\n\r\n", 0, end if end >= 0 else len(buffer))
    if bare < 0 and mixed < 0:
        return (end, end + 4) if end >= 0 else (-1, -1)
    if mixed < 0 or 0 <= bare < mixed:
        return bare, bare + 2
    return mixed, mixed + 3


def request_head(method: str, target: str, host: str, block: bytes, body_length: int) -> bytes:
    """The request line, Host, the prepared header block and the framing of the body."""
    length = b"" if body_length < 0 else b"Content-Length: %d\r\n" % body_length
    return b"%s %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n" % (
        method.encode(),
        target.encode(),
        host.encode(),
        block,
        length,
    )


def parse_head(block: bytes, *, no_body: bool = False) -> ResponseHead:
    """Parse a response head (everything before the blank line).

    ``no_body`` is for answers to HEAD requests. Raises MalformedResponse.
    """
    lines = block.split(b"\r\n")
    crlf = len(lines) - 1
    if block.count(b"\n") != crlf or block.count(b"\r") != crlf or b"\x00" in block:
        # Bare LF line ends are accepted (RFC 9112 2.2); a bare CR or a NUL must not
        # reach anyone downstream (RFC 9110 5.5).
        lines = [line[:-1] if line.endswith(b"\r") else line for line in block.split(b"\n")]
        if b"\x00" in block or any(b"\r" in line for line in lines):
            raise MalformedResponse("the upstream's response head contains a control character")
    status_line = lines[0]
    if (
        len(status_line) < 12
        or status_line[:7] != b"HTTP/1."
        or status_line[7:8] not in (b"0", b"1")
        or status_line[8:9] != b" "
        or not status_line[9:12].isdigit()
        or (len(status_line) > 12 and status_line[12:13] != b" ")
    ):
        raise MalformedResponse("the upstream's status line is not HTTP/1.x")
    http10 = status_line[7:8] == b"0"
    status = int(status_line[9:12])
    if status < 100:
        raise MalformedResponse("the upstream's status code is below 100")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name.translate(None, TOKEN_CHARS):
            raise MalformedResponse("the upstream sent a malformed header line")
        headers.add(name.decode("latin-1"), value.strip(b" \t").decode("latin-1"))
    framing, length = _framing(status, headers, no_body)
    connection = ",".join(headers.getall("Connection", ())).lower()
    keep_alive = "keep-alive" in connection if http10 else "close" not in connection
    if framing is Framing.UNTIL_CLOSE or (
        framing is Framing.CHUNKED and (http10 or "Content-Length" in headers)
    ):
        # RFC 9112 6.1 and 6.3: a message framed both ways, or an HTTP/1.0 one
        # with Transfer-Encoding, must not be followed by another.
        keep_alive = False
    reason = status_line[13:].decode("latin-1")
    return ResponseHead(status, reason, headers, framing, length, keep_alive)


def _framing(status: int, headers: CIMultiDict[str], no_body: bool) -> tuple[Framing, int]:
    if no_body or status < 200 or status in (204, 304):
        return Framing.NONE, 0
    codings = headers.getall("Transfer-Encoding", ())
    if codings:
        coding = codings[-1]  # repeated fields are one list (RFC 9110 5.3); the last decides
        if coding.rsplit(",", 1)[-1].strip().lower() == "chunked":
            return Framing.CHUNKED, 0
        return Framing.UNTIL_CLOSE, 0
    lengths = headers.getall("Content-Length", ())
    if not lengths:
        return Framing.UNTIL_CLOSE, 0
    values = {value.strip() for joined in lengths for value in joined.split(",")}
    if len(values) != 1:
        raise MalformedResponse("the upstream sent conflicting Content-Length headers")
    (value,) = values
    if not value.isdigit() or not value.isascii():
        raise MalformedResponse("the upstream sent an invalid Content-Length")
    length = int(value)
    return (Framing.LENGTH, length) if length else (Framing.NONE, 0)


class ChunkedDecoder:
    """Turns ``Transfer-Encoding: chunked`` bytes, as they arrive, into body bytes."""

    __slots__ = ("_pending", "_remaining", "_state", "done", "leftover")

    _SIZE, _DATA, _DATA_END, _TRAILER = range(4)

    def __init__(self) -> None:
        self.done = False
        self.leftover = b""
        """Bytes after the last chunk's trailer (none from a well-behaved upstream)."""
        self._pending = b""
        self._remaining = 0
        self._state = self._SIZE

    def feed(self, data: bytes) -> list[bytes]:
        """The body bytes in ``data``; sets ``done`` at the terminating chunk."""
        if self._pending:
            data = self._pending + data
            self._pending = b""
        pieces: list[bytes] = []
        position, size = 0, len(data)
        while position < size and not self.done:
            state = self._state
            if state == self._DATA:
                take = min(self._remaining, size - position)
                pieces.append(data[position : position + take])
                position += take
                self._remaining -= take
                if not self._remaining:
                    self._state = self._DATA_END
            elif state == self._DATA_END:
                if size - position < 2:
                    self._pending = data[position:]
                    break
                if data[position : position + 2] != b"\r\n":
                    raise MalformedResponse("a chunk of the upstream's body is not terminated")
                position += 2
                self._state = self._SIZE
            else:
                end = data.find(b"\r\n", position)
                if end < 0:
                    if size - position > MAX_CHUNK_LINE_BYTES:
                        raise MalformedResponse("a chunk line of the upstream's body is too long")
                    self._pending = data[position:]
                    break
                if end - position > MAX_CHUNK_LINE_BYTES:
                    raise MalformedResponse("a chunk line of the upstream's body is too long")
                line = data[position:end]
                position = end + 2
                if state == self._TRAILER:
                    if not line:
                        self.done = True
                        self.leftover = data[position:]
                    continue
                self._start_chunk(line)
        return pieces

    def _start_chunk(self, line: bytes) -> None:
        digits = line.split(b";", 1)[0].strip(b" \t")
        if not digits or digits.strip(HEX_DIGITS) or len(digits) > 16:
            raise MalformedResponse("the upstream sent an invalid chunk size")
        self._remaining = int(digits, 16)
        self._state = self._DATA if self._remaining else self._TRAILER
