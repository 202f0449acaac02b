"""The Messages client format: usage read from native streams, stream-ending error events."""

from __future__ import annotations

import orjson

from gateway.adapters.base import StreamUsage
from gateway.errors import OVERLOADED, error_body
from gateway.messages.format import MessagesFormat
from gateway.messages.request import MessagesParams
from tests.messages.helpers import parse_events


def fmt() -> MessagesFormat:
    body = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"anthropic-beta": "b1", "x-api-key": "secret", "anthropic-version": "v"}
    return MessagesFormat(body, orjson.dumps(body), MessagesParams("m", True, ()), headers)


def test_forwards_only_anthropic_headers_and_sets_the_model() -> None:
    messages = fmt()
    assert messages.native_headers() == {"anthropic-version": "v", "anthropic-beta": "b1"}
    assert orjson.loads(messages.native_body("claude-x"))["model"] == "claude-x"


def test_native_stream_usage_is_read_as_it_passes() -> None:
    start = {
        "type": "message_start",
        "message": {
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 5,
                "cache_read_input_tokens": 100,
                "output_tokens": 1,
            }
        },
    }
    delta = {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 42}}
    events = b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n"
        for e in (start, delta)
    )
    usage: list[StreamUsage] = []
    messages = fmt()
    messages.watch_native(events[:40], usage)  # no usage in this piece
    messages.watch_native(events, usage)
    assert usage[-1] == StreamUsage(115, 42, 100, 0, cache_write_tokens=5)


def test_error_events_in_anthropic_shape() -> None:
    messages = fmt()
    overloaded = error_body("busy", "upstream_error", None, OVERLOADED)
    limited = error_body("slow down", "rate_limit_error")
    broken = error_body("broke", "upstream_error", None, "upstream_disconnected")
    assert [parse_events(messages.error_event(e))[0] for e in (overloaded, limited, broken)] == [
        ("error", {"type": "error", "error": {"type": t, "message": m}})
        for t, m in (
            ("overloaded_error", "busy"),
            ("rate_limit_error", "slow down"),
            ("api_error", "broke"),
        )
    ]
