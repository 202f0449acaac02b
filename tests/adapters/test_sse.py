"""The SSE parser survives any split of the byte stream and never yields half an event."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.adapters.sse import SSEDecoder, iter_data, iter_events

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


async def test_iter_events_yields_whole_events_as_they_complete() -> None:
    raw = b"event: a\ndata: 1\n\nevent: b\r\ndata: 2\r\n\r\nevent: c\ndata: cut"

    async def split(size: int) -> AsyncIterator[bytes]:
        for i in range(0, len(raw), size):
            yield raw[i : i + size]

    for size in (1, 5, len(raw)):
        out = [block async for block in iter_events(split(size))]
        assert b"".join(out) == raw[: raw.index(b"event: c")]
        assert all(block.endswith((b"\n\n", b"\r\n\r\n")) for block in out)
