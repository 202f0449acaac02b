"""The SSE parser survives any split of the byte stream; the encoder round-trips."""

from __future__ import annotations

import pytest

from gateway.adapters.sse import SSEDecoder, SSEEvent, comment, encode, encode_json, iter_data

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
EXPECTED = [
    SSEEvent(b'{"a":1}', "message_start"),
    SSEEvent(b'{"b":\n2}', "message"),
    SSEEvent(b"no-space", "message"),
    SSEEvent(b"[DONE]", "message"),
]


def parse(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


def test_whole_stream() -> None:
    assert parse([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_at_every_byte_boundary(cut: int) -> None:
    assert parse([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_one_byte_at_a_time() -> None:
    assert parse([STREAM[i : i + 1] for i in range(len(STREAM))] + [b""]) == EXPECTED


def test_unterminated_last_event_is_delivered_on_close() -> None:
    assert parse([b'data: {"x":1}']) == [SSEEvent(b'{"x":1}')]


def test_event_name_resets_after_dispatch() -> None:
    events = parse([b"event: a\ndata: 1\n\ndata: 2\n\n"])
    assert events == [SSEEvent(b"1", "a"), SSEEvent(b"2", "message")]


def test_encoder_round_trips() -> None:
    wire = encode(b"line1\nline2", "named") + encode_json({"k": "v"}) + comment("keep-alive")
    assert wire.startswith(b"event: named\ndata: line1\ndata: line2\n\n")
    assert parse([wire]) == [SSEEvent(b"line1\nline2", "named"), SSEEvent(b'{"k":"v"}')]


async def test_iter_data_over_chunks() -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(STREAM), 5):
            yield STREAM[i : i + 5]

    assert [d async for d in iter_data(chunks())] == [e.data for e in EXPECTED]
