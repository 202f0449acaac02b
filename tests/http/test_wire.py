"""HTTP/1.1 on the wire without a socket: heads, framing (RFC 9112 6.3), chunked bodies."""

from __future__ import annotations

import random

import pytest

from gateway.http import MalformedResponse
from gateway.http.wire import (
    MAX_CHUNK_LINE_BYTES,
    ChunkedDecoder,
    Framing,
    head_end,
    header_block,
    parse_head,
    request_head,
)

# -- status line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "status", "reason"),
    [
        (b"HTTP/1.1 200 OK", 200, "OK"),
        (b"HTTP/1.1 404 Not Found", 404, "Not Found"),
        (b"HTTP/1.0 503 Service Unavailable", 503, "Service Unavailable"),
        (b"HTTP/1.1 200", 200, ""),
        (b"HTTP/1.1 200 ", 200, ""),
        (b"HTTP/1.1 599 \xe9t\xe9", 599, "\xe9t\xe9"),
    ],
)
def test_status_line(line: bytes, status: int, reason: str) -> None:
    head = parse_head(line + b"\r\nContent-Length: 0")
    assert (head.status, head.reason) == (status, reason)


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"HTTP/1.1",
        b"HTTP/1.1 20",
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 20x OK",
        b"HTTP/1.1 +20 OK",
        b"HTTP/1.1  200 OK",
        b"HTTP/1.2 200 OK",
        b"HTTP/2 200 OK",
        b"HTTP/2.0 200 OK",
        b"http/1.1 200 OK",
        b"ICY 200 OK",
        b"HTTP/1.1\t200 OK",
        b"HTTP/1.1 200\tOK",
        b"HTTP/1.1 \xd9\xa2\xd9\xa0\xd9\xa0 OK",  # Arabic-Indic digits are not digits here
        b"HTTP/1.1 000 Zero",
        b"HTTP/1.1 099 Low",
    ],
)
def test_malformed_status_line(line: bytes) -> None:
    with pytest.raises(MalformedResponse):
        parse_head(line + b"\r\nContent-Length: 0")


def test_status_line_alone() -> None:
    head = parse_head(b"HTTP/1.1 204 No Content")
    assert head.status == 204 and not head.headers and head.framing is Framing.NONE


# -- header lines --------------------------------------------------------------------


def test_headers_keep_order_repeats_and_case_insensitive_lookup() -> None:
    head = parse_head(
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: application/json\r\n"
        b"set-cookie: a=1\r\n"
        b"Set-Cookie: b=2\r\n"
        b"X-Empty:\r\n"
        b"X-Spaces: \t padded value \t \r\n"
        b"X-Colons: a:b:c\r\n"
        b"X-Latin: caf\xe9\r\n"
        b"Content-Length: 2"
    )
    assert head.headers["content-type"] == "application/json"
    assert head.headers.getall("Set-Cookie") == ["a=1", "b=2"]
    assert head.headers["X-Empty"] == ""
    assert head.headers["X-Spaces"] == "padded value"
    assert head.headers["X-Colons"] == "a:b:c"
    assert head.headers["X-Latin"] == "caf\xe9"
    assert list(head.headers.items())[1:3] == [("set-cookie", "a=1"), ("Set-Cookie", "b=2")]


@pytest.mark.parametrize(
    "line",
    [
        b"No-Colon",
        b": no name",
        b"Space-Before-Colon : x",
        b"Tab-Before-Colon\t: x",
        b" Leading-Space: x",
        b"\tLeading-Tab: x",
        b"Bad Name: x",
        b"Bad(Name): x",
        b"Bad\x00Name: x",
        b"X-Value: a\rb",
        b"X-Value: a\x00b",
        b"",
    ],
)
def test_malformed_header_line(line: bytes) -> None:
    with pytest.raises(MalformedResponse):
        parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n" + line)


def test_bare_lf_line_ends_are_accepted() -> None:
    """RFC 9112 2.2: a recipient may take a bare LF as a line end (mixed with CRLF too)."""
    head = parse_head(b"HTTP/1.1 200 OK\nContent-Length: 2\r\nX-A: a\nX-B: b")
    assert (head.status, head.length, head.headers["X-A"], head.headers["X-B"]) == (
        200,
        2,
        "a",
        "b",
    )
    with pytest.raises(MalformedResponse):
        parse_head(b"HTTP/1.1 200 OK\nX-A: a\rb")


@pytest.mark.parametrize(
    ("buffer", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody", (21, 25)),
        (b"HTTP/1.1 200 OK\nA: b\n\nbody", (20, 22)),
        (b"HTTP/1.1 200 OK\nA: b\n\r\nbody", (20, 23)),
        (b"HTTP/1.1 200 OK\nA: b\n\nbody\r\n\r\n", (20, 22)),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n", (-1, -1)),
    ],
)
def test_head_end(buffer: bytes, expected: tuple[int, int]) -> None:
    assert head_end(buffer) == expected


def test_obs_fold_is_refused() -> None:
    """A continuation line (obs-fold) is not merged: a gateway may refuse it (RFC 9112 5.2)."""
    with pytest.raises(MalformedResponse):
        parse_head(b"HTTP/1.1 200 OK\r\nX-Long: first\r\n  second\r\nContent-Length: 0")
    with pytest.raises(MalformedResponse):
        parse_head(b"HTTP/1.1 200 OK\r\nX-Long: first\r\n\tsecond\r\nContent-Length: 0")


# -- framing (RFC 9112 6.3) ----------------------------------------------------------


def frame(head: bytes, *, no_body: bool = False) -> tuple[Framing, int, bool]:
    parsed = parse_head(head, no_body=no_body)
    return parsed.framing, parsed.length, parsed.keep_alive


def test_content_length() -> None:
    assert frame(b"HTTP/1.1 200 OK\r\nContent-Length: 42") == (Framing.LENGTH, 42, True)
    assert frame(b"HTTP/1.1 200 OK\r\ncontent-length:  7 ") == (Framing.LENGTH, 7, True)
    assert frame(b"HTTP/1.1 200 OK\r\nContent-Length: 0") == (Framing.NONE, 0, True)
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 123456789012345"
    assert frame(big) == (Framing.LENGTH, 123456789012345, True)


def test_repeated_equal_content_lengths_are_one() -> None:
    assert frame(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5")[:2] == (
        Framing.LENGTH,
        5,
    )
    assert frame(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5")[:2] == (Framing.LENGTH, 5)


@pytest.mark.parametrize(
    "lengths",
    [
        [b"5", b"6"],
        [b"5, 6"],
        [b"5,"],
        [b""],
        [b"-1"],
        [b"+5"],
        [b"0x10"],
        [b"5.0"],
        [b"1e3"],
        [b"5 5"],
        [b"\xb2"],  # superscript two: str.isdigit() says yes
        [b"\xd9\xa5"],
    ],
)
def test_invalid_or_conflicting_content_length(lengths: list[bytes]) -> None:
    head = b"HTTP/1.1 200 OK" + b"".join(b"\r\nContent-Length: " + value for value in lengths)
    with pytest.raises(MalformedResponse):
        parse_head(head)


def test_chunked() -> None:
    assert frame(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked") == (Framing.CHUNKED, 0, True)
    assert frame(b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked")[0] is Framing.CHUNKED
    assert frame(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked")[0] is Framing.CHUNKED


def test_chunked_across_repeated_transfer_encoding_headers() -> None:
    """Repeated fields are one list (RFC 9110 5.3): the last coding decides."""
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked"
    assert frame(head)[0] is Framing.CHUNKED
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip"
    assert frame(head)[:3] == (Framing.UNTIL_CLOSE, 0, False)


def test_transfer_encoding_not_ending_in_chunked_reads_until_close() -> None:
    assert frame(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip") == (Framing.UNTIL_CLOSE, 0, False)
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip"
    assert frame(head) == (Framing.UNTIL_CLOSE, 0, False)


def test_transfer_encoding_overrides_content_length_and_forbids_reuse() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked"
    assert frame(head) == (Framing.CHUNKED, 0, False)
    # Even an invalid Content-Length does not matter once Transfer-Encoding frames the body.
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: nope"
    assert frame(head) == (Framing.CHUNKED, 0, False)


def test_no_framing_reads_until_close() -> None:
    assert frame(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain") == (
        Framing.UNTIL_CLOSE,
        0,
        False,
    )
    head = b"HTTP/1.1 200 OK\r\nConnection: keep-alive"
    assert frame(head) == (Framing.UNTIL_CLOSE, 0, False)


@pytest.mark.parametrize("status", [100, 101, 103, 204, 304])
def test_statuses_without_a_body(status: int) -> None:
    head = b"HTTP/1.1 %d X\r\nContent-Length: 10\r\nTransfer-Encoding: chunked" % status
    assert frame(head)[:2] == (Framing.NONE, 0)
    assert frame(b"HTTP/1.1 %d X" % status)[:2] == (Framing.NONE, 0)


def test_304_keeps_the_connection() -> None:
    assert frame(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234") == (Framing.NONE, 0, True)


@pytest.mark.parametrize(
    "extra",
    [b"Content-Length: 99", b"Transfer-Encoding: chunked", b"Content-Type: text/plain"],
)
def test_answer_to_head_has_no_body(extra: bytes) -> None:
    assert frame(b"HTTP/1.1 200 OK\r\n" + extra, no_body=True) == (Framing.NONE, 0, True)


def test_answer_to_head_with_a_bad_content_length_is_still_fine() -> None:
    assert frame(b"HTTP/1.1 200 OK\r\nContent-Length: x", no_body=True)[0] is Framing.NONE


@pytest.mark.parametrize(
    ("connection", "keep_alive"),
    [
        (None, True),
        (b"keep-alive", True),
        (b"close", False),
        (b"Close", False),
        (b"CLOSE", False),
        (b"upgrade, close", False),
        (b"Keep-Alive, Close", False),
    ],
)
def test_http11_persistence(connection: bytes | None, keep_alive: bool) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1"
    if connection is not None:
        head += b"\r\nConnection: " + connection
    assert frame(head)[2] is keep_alive


def test_http11_close_in_a_second_connection_header() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: x-foo\r\nConnection: close"
    assert frame(head)[2] is False


@pytest.mark.parametrize(
    ("connection", "keep_alive"),
    [(None, False), (b"keep-alive", True), (b"Keep-Alive", True), (b"close", False)],
)
def test_http10_persistence(connection: bytes | None, keep_alive: bool) -> None:
    head = b"HTTP/1.0 200 OK\r\nContent-Length: 1"
    if connection is not None:
        head += b"\r\nConnection: " + connection
    assert frame(head)[2] is keep_alive


def test_http10_until_close_is_never_kept() -> None:
    assert frame(b"HTTP/1.0 200 OK\r\nConnection: keep-alive") == (Framing.UNTIL_CLOSE, 0, False)


def test_http10_with_transfer_encoding_is_not_kept() -> None:
    """RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; close."""
    head = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive"
    assert frame(head)[2] is False


# -- chunked bodies ------------------------------------------------------------------

BODY = b"".join(bytes([i % 251]) for i in range(3000))
ENCODED = (
    b"1;name=value\r\n" + BODY[:1] + b"\r\n"
    b'A; quoted="a;b" ;x\r\n' + BODY[1:11] + b"\r\n"
    b"3e8 \r\n" + BODY[11:1011] + b"\r\n"
    b"7c5\t;ext\r\n" + BODY[1011:3000] + b"\r\n"
    b"0;last\r\n"
    b"Trailer-One: 1\r\n"
    b"Trailer-Two: 2\r\n"
    b"\r\n"
)


def decode(pieces: list[bytes]) -> tuple[bytes, ChunkedDecoder]:
    decoder = ChunkedDecoder()
    out: list[bytes] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    assert all(out), "no empty pieces"
    return b"".join(out), decoder


def test_chunked_in_one_piece() -> None:
    body, decoder = decode([ENCODED])
    assert body == BODY and decoder.done and decoder.leftover == b""


def test_chunked_byte_by_byte() -> None:
    body, decoder = decode([ENCODED[i : i + 1] for i in range(len(ENCODED))])
    assert body == BODY and decoder.done and decoder.leftover == b""


@pytest.mark.parametrize("seed", range(25))
def test_chunked_in_random_splits(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(ENCODED)), rng.randint(1, 60)))
    pieces = [ENCODED[a:b] for a, b in zip([0, *cuts], [*cuts, len(ENCODED)], strict=True)]
    body, decoder = decode(pieces)
    assert body == BODY and decoder.done and decoder.leftover == b""


def test_not_done_until_the_final_blank_line() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"3\r\nabc\r\n0\r\n") == [b"abc"]
    assert not decoder.done
    assert decoder.feed(b"X-Trailer: 1\r\n") == []
    assert not decoder.done
    assert decoder.feed(b"\r") == [] and not decoder.done
    assert decoder.feed(b"\n") == [] and decoder.done


def test_empty_chunked_body() -> None:
    body, decoder = decode([b"0\r\n\r\n"])
    assert body == b"" and decoder.done


def test_bytes_after_the_last_chunk_are_leftover() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"2\r\nhi\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n") == [b"hi"]
    assert decoder.done and decoder.leftover == b"HTTP/1.1 200 OK\r\n"
    assert decoder.feed(b"more") == []


def test_large_chunk_size() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"FFFFFFFF\r\nabc") == [b"abc"]
    assert not decoder.done


@pytest.mark.parametrize(
    "size_line",
    [
        b"",
        b"g",
        b"-1",
        b"+1",
        b"0x1",
        b"1 1",
        b"1.0",
        b";ext",
        b" ",
        b"\xd9\xa1",
        b"1" * 17,
    ],
)
def test_invalid_chunk_size(size_line: bytes) -> None:
    with pytest.raises(MalformedResponse):
        ChunkedDecoder().feed(size_line + b"\r\nx\r\n0\r\n\r\n")


def test_chunk_data_not_followed_by_crlf() -> None:
    with pytest.raises(MalformedResponse):
        ChunkedDecoder().feed(b"3\r\nabcd\r\n0\r\n\r\n")
    decoder = ChunkedDecoder()
    assert decoder.feed(b"3\r\nabc") == [b"abc"]
    assert decoder.feed(b"\r") == []
    with pytest.raises(MalformedResponse):
        decoder.feed(b"x")


def test_a_chunk_line_without_end_is_bounded() -> None:
    decoder = ChunkedDecoder()
    decoder.feed(b"1;" + b"x" * (MAX_CHUNK_LINE_BYTES - 10))
    with pytest.raises(MalformedResponse):
        decoder.feed(b"x" * 20)
    decoder = ChunkedDecoder()
    with pytest.raises(MalformedResponse):
        for _ in range(MAX_CHUNK_LINE_BYTES + 2):
            decoder.feed(b"0")


def test_a_trailer_line_without_end_is_bounded() -> None:
    decoder = ChunkedDecoder()
    decoder.feed(b"0\r\nX-Trailer: ")
    with pytest.raises(MalformedResponse):
        decoder.feed(b"x" * (MAX_CHUNK_LINE_BYTES + 1))


# -- the request head ----------------------------------------------------------------


def test_request_head() -> None:
    block = header_block({"Authorization": "Bearer k", "X-Empty": ""})
    assert block == b"Authorization: Bearer k\r\nX-Empty: \r\n"
    assert request_head("POST", "/v1/chat?a=1", "example.com:8080", block, 12) == (
        b"POST /v1/chat?a=1 HTTP/1.1\r\n"
        b"Host: example.com:8080\r\n"
        b"Authorization: Bearer k\r\n"
        b"X-Empty: \r\n"
        b"Content-Length: 12\r\n"
        b"\r\n"
    )


def test_request_head_body_lengths() -> None:
    assert b"Content-Length" not in request_head("GET", "/", "h", b"", -1)
    assert b"\r\nContent-Length: 0\r\n\r\n" in request_head("POST", "/", "h", b"", 0)


def test_header_block_encodes_non_ascii_values_as_utf8() -> None:
    assert header_block({"X-Name": "caf\xe9"}) == "X-Name: caf\xe9\r\n".encode()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Value": "a\r\nInjected: b"},
        {"X-Value": "a\nb"},
        {"X-Value": "a\rb"},
        {"X-Value": "a\x00b"},
        {"X-Na\rme": "v"},
        {"X-Na\nme": "v"},
        {"X-Na\x00me": "v"},
        {"Bad Name": "v"},
        {"Bad:Name": "v"},
        {"": "v"},
        {"Bad\tName": "v"},
        {"Bad(Name)": "v"},
        {"Good": "v", "X-Value": "ok\r\n"},
    ],
)
def test_header_block_refuses_line_splitting(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        header_block(headers)


def test_header_block_error_does_not_echo_the_value() -> None:
    with pytest.raises(ValueError) as caught:
        header_block({"Authorization": "Bearer sk-secret\r\n"})
    assert "sk-secret" not in str(caught.value)


def test_a_long_chunk_line_is_refused_even_when_complete() -> None:
    """The limit holds whether or not the line's end arrived in the same read."""
    line = b"1;ext=" + b"x" * MAX_CHUNK_LINE_BYTES + b"\r\n"
    with pytest.raises(MalformedResponse):
        ChunkedDecoder().feed(line + b"x\r\n0\r\n\r\n")
