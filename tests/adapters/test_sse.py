"""The SSE parser survives any split of the byte stream and never yields half an event."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from gateway.adapters.sse import EventTooLarge, SSEDecoder, iter_data, iter_events

STREAM = (
    b": comment line\n"
    b"event: message_start\n"
    b'data: {"a":1}\n'
    b"\n"
    b'data: {"b":\r\n'
    b"data: 2}\r\n"
    b"\r\n"
    b"id: 7\rretry: 100\r"
    b"data:no-space\r"
    b"\r"
    b"event: ping\n"
    b"\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [b'{"a":1}', b'{"b":\n2}', b"no-space", b"[DONE]"]


def parse(chunks: list[bytes]) -> list[bytes]:
    decoder = SSEDecoder()
    return [payload for chunk in chunks for payload in decoder.feed(chunk)]


def test_whole_stream() -> None:
    assert parse([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_at_every_byte_boundary(cut: int) -> None:
    assert parse([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_one_byte_at_a_time() -> None:
    assert parse([STREAM[i : i + 1] for i in range(len(STREAM))] + [b""]) == EXPECTED


def test_unterminated_last_event_is_dropped() -> None:
    assert parse([b'data: {"x":1}\n\ndata: {"cut']) == [b'{"x":1}']


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_iter_data_stops_at_done() -> None:
    body = STREAM + b'data: {"after":"done"}\n\n'
    assert [d async for d in iter_data(_chunks(body, 5))] == EXPECTED[:-1]


def test_a_long_line_is_decoded_in_linear_time() -> None:
    """16 MiB in one line, fed 16 KiB at a time: one pass, not a copy per chunk (was ~20 s)."""
    payload = b"x" * (16 * 1024 * 1024)
    body = b"data: " + payload + b"\n\n"
    pieces = [body[i : i + 16384] for i in range(0, len(body), 16384)]
    decoder = SSEDecoder()
    started = time.perf_counter()
    got = [p for piece in pieces for p in decoder.feed(piece)]
    elapsed = time.perf_counter() - started
    assert got == [payload]
    assert elapsed < 3.0, f"decoding took {elapsed:.2f} s"


@pytest.mark.parametrize(
    "chunks",
    [
        [b"data: " + b"x" * 5000],  # a line that never ends, in one chunk
        [b"data: " + b"x" * 3000, b"y" * 3000 + b"\n\n"],  # its end arrives later
        [b"data: " + b"x" * 5000 + b"\n\n"],  # a whole line in one chunk
        [b"data: " + b"x" * 3000 + b"\ndata: " + b"y" * 3000 + b"\n"],  # a multi-line event
        [b": " + b"z" * 3000, b"z" * 3000 + b"\n"],  # comment lines count too
    ],
)
def test_a_line_or_event_over_the_cap_is_refused(chunks: list[bytes]) -> None:
    decoder = SSEDecoder(max_event_bytes=4096)
    with pytest.raises(EventTooLarge) as caught:
        for chunk in chunks:
            decoder.feed(chunk)
    assert caught.value.http_status == 502
    assert "4096 bytes (upstream.max_event_bytes)" in caught.value.message


def test_events_up_to_the_cap_pass() -> None:
    event = b"data: " + b"x" * 4000 + b"\n\n"
    decoder = SSEDecoder(max_event_bytes=4096)
    assert parse_with(decoder, [event[:100], event[100:]] * 3) == [b"x" * 4000] * 3


def parse_with(decoder: SSEDecoder, chunks: list[bytes]) -> list[bytes]:
    return [payload for chunk in chunks for payload in decoder.feed(chunk)]


def test_events_before_an_oversized_one_in_the_same_chunk_still_come_out() -> None:
    decoder = SSEDecoder(max_event_bytes=4096)
    assert decoder.feed(b"data: a\n\ndata: b\n\ndata: " + b"x" * 5000) == [b"a", b"b"]
    with pytest.raises(EventTooLarge):
        decoder.feed(b"\n\n")


async def test_iter_events_yields_whole_events_as_they_complete() -> None:
    raw = b"event: a\ndata: 1\n\nevent: b\r\ndata: 2\r\n\r\nevent: c\ndata: cut"

    async def split(size: int) -> AsyncIterator[bytes]:
        for i in range(0, len(raw), size):
            yield raw[i : i + size]

    for size in (1, 5, len(raw)):
        out = [block async for block in iter_events(split(size))]
        assert b"".join(out) == raw[: raw.index(b"event: c")]
        assert all(block.endswith((b"\n\n", b"\r\n\r\n")) for block in out)


async def test_iter_events_holds_a_long_event_in_linear_time_and_caps_it() -> None:
    event = b"event: big\ndata: " + b"x" * (16 * 1024 * 1024) + b"\r\n\r\n"
    started = time.perf_counter()
    out = [block async for block in iter_events(_chunks(event, 16384))]
    elapsed = time.perf_counter() - started
    assert out == [event]
    assert elapsed < 3.0, f"took {elapsed:.2f} s"
    with pytest.raises(EventTooLarge):
        _ = [block async for block in iter_events(_chunks(event, 16384), max_event_bytes=4096)]
