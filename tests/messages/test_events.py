"""The stream translator: chat chunks in, Anthropic's events out, every rule of the stream kept."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.adapters.base import JSON, StreamUsage
from gateway.messages.events import PIECE, message_events
from tests.messages.helpers import aiter, check_stream, final_delta, parse_events


def chunk(delta: JSON | None = None, finish: str | None = None, **choice: Any) -> JSON:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish, **choice}],
    }


def call(index: int, arguments: str, id_: str | None = None, name: str | None = None) -> JSON:
    fragment: JSON = {"index": index, "function": {"arguments": arguments}}
    if id_:
        fragment.update(id=id_, type="function")
        fragment["function"]["name"] = name
    return {"tool_calls": [fragment]}


async def translate(
    chunks: list[JSON], usage: list[StreamUsage] | None = None, stops: tuple[str, ...] = ()
) -> tuple[list[tuple[str, JSON]], list[bytes]]:
    seen = usage if usage is not None else []
    pieces = [piece async for piece in message_events(aiter(chunks), "claude-x", stops, seen)]
    return parse_events(b"".join(pieces)), pieces


async def test_text_stream_with_usage_in_message_delta() -> None:
    usage_chunk = {
        "choices": [],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    }
    events, _ = await translate(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            usage_chunk,
        ],
        usage=[StreamUsage(20, 5)],
    )
    assert check_stream(events) == [{"type": "text", "text": "Hello"}]
    start = events[0][1]["message"]
    assert start["model"] == "claude-x" and start["id"].startswith("msg_")
    assert events[1][0] == "ping"
    delta = final_delta(events)
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {"input_tokens": 20, "output_tokens": 5}


async def test_interleaved_parallel_tool_calls_become_ordered_blocks() -> None:
    """OpenAI interleaves fragments of parallel calls; every call must survive, in order."""
    events, _ = await translate(
        [
            chunk({"role": "assistant", "content": None}),
            chunk(call(0, "", "call_a", "get_weather")),
            chunk(call(1, "", "call_b", "get_time")),
            chunk(call(0, '{"city": ')),
            chunk(call(1, '{"tz": ')),
            chunk(call(0, '"Paris"}')),
            chunk(call(1, '"CET"}')),
            chunk({}, "tool_calls"),
        ]
    )
    blocks = check_stream(events)
    assert blocks == [
        {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_b", "name": "get_time", "input": {"tz": "CET"}},
    ]
    assert final_delta(events)["delta"]["stop_reason"] == "tool_use"


async def test_sequential_tool_calls_stream_as_they_come() -> None:
    """A call whose arguments are complete closes when the next starts: no waiting for the end."""
    chunks = [
        chunk(call(0, "", "call_a", "read")),
        chunk(call(0, '{"path": "a"}')),
        chunk(call(1, "", "call_b", "read")),
        chunk(call(1, '{"path": "b"}')),
        chunk({}, "tool_calls"),
    ]
    events, pieces = await translate(chunks)
    assert [b["input"] for b in check_stream(events)] == [{"path": "a"}, {"path": "b"}]
    third = parse_events(pieces[2])  # the output for the chunk that opens the second call
    assert [name for name, _ in third] == ["content_block_stop", "content_block_start"]


async def test_whole_arguments_arrive_as_input_json_pieces() -> None:
    """Gemini sends arguments whole: they must not be lost (no empty input), and come in pieces."""
    long_text = "x" * (PIECE * 2 + 10)
    arguments = orjson.dumps({"content": long_text, "path": "f.txt"}).decode()
    events, _ = await translate(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk(call(0, arguments, "call_0", "write")),
            chunk(call(1, '{"cmd": "ls"}', "call_1", "bash")),
            chunk({}, "tool_calls"),
        ]
    )
    blocks = check_stream(events)
    assert blocks[0]["input"] == {"content": long_text, "path": "f.txt"}
    assert blocks[1]["input"] == {"cmd": "ls"}
    pieces = [d for n, d in events if n == "content_block_delta" and d["index"] == 0]
    assert len(pieces) == 3 and all(len(p["delta"]["partial_json"]) <= PIECE for p in pieces)


async def test_text_after_a_tool_call_opens_a_new_block() -> None:
    events, _ = await translate(
        [
            chunk({"content": "Let me look."}),
            chunk(call(0, '{"q": 1}', "call_0", "search")),
            chunk({"content": "Done."}),
            chunk({}, "stop"),
        ]
    )
    assert [(b["type"], b.get("text")) for b in check_stream(events)] == [
        ("text", "Let me look."),
        ("tool_use", None),
        ("text", "Done."),
    ]


async def test_reasoning_becomes_a_thinking_block_before_the_text() -> None:
    events, _ = await translate(
        [
            chunk({"reasoning_content": "Think"}),
            chunk({"reasoning_content": "ing."}),
            chunk({"content": "Answer"}),
            chunk({}, "stop"),
        ]
    )
    blocks = check_stream(events)
    assert blocks[0] == {"type": "thinking", "thinking": "Thinking.", "signature": ""}
    assert blocks[1] == {"type": "text", "text": "Answer"}


@pytest.mark.parametrize(
    ("finish", "extra", "expected"),
    [
        ("length", {}, ("max_tokens", None)),
        ("content_filter", {}, ("refusal", None)),
        ("tool_calls", {}, ("tool_use", None)),
        ("stop", {"stop_reason": "END"}, ("stop_sequence", "END")),
        ("stop", {"stop_reason": "other"}, ("end_turn", None)),
        (None, {}, ("end_turn", None)),
    ],
)
async def test_stop_reasons(finish: str | None, extra: JSON, expected: tuple[str, Any]) -> None:
    events, _ = await translate(
        [chunk({"content": "a"}), chunk({}, finish, **extra)], stops=("END",)
    )
    check_stream(events)
    delta = final_delta(events)["delta"]
    assert (delta["stop_reason"], delta["stop_sequence"]) == expected


async def test_cached_tokens_move_to_cache_read() -> None:
    usage_chunk = {
        "choices": [],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 60},
        },
    }
    events, _ = await translate(
        [chunk({"content": "a"}, "stop"), usage_chunk], usage=[StreamUsage(100, 3, 60)]
    )
    assert final_delta(events)["usage"] == {
        "input_tokens": 40,
        "output_tokens": 3,
        "cache_read_input_tokens": 60,
    }


async def test_cache_writes_move_to_cache_creation() -> None:
    """An OpenAI-compatible upstream that reports writes (OpenRouter's cache_write_tokens)."""
    details = {"cached_tokens": 60, "cache_write_tokens": 30}
    usage_chunk = {
        "choices": [],
        "usage": {"prompt_tokens": 100, "completion_tokens": 3, "prompt_tokens_details": details},
    }
    events, _ = await translate(
        [chunk({"content": "a"}, "stop"), usage_chunk],
        usage=[StreamUsage(100, 3, 60, cache_write_tokens=30)],
    )
    assert final_delta(events)["usage"] == {
        "input_tokens": 10,
        "output_tokens": 3,
        "cache_read_input_tokens": 60,
        "cache_creation_input_tokens": 30,
    }


async def test_an_empty_upstream_stream_still_makes_a_whole_message() -> None:
    events, _ = await translate([])
    assert check_stream(events) == []


async def test_signed_thinking_blocks_carry_their_signature() -> None:
    """Anthropic's blocks carried through chat (thinking_blocks): signature_delta before stop."""
    signed = {"type": "thinking", "thinking": "Hmm.", "signature": "c2ln"}
    redacted = {"type": "redacted_thinking", "data": "b3BhcXVl"}
    events, _ = await translate(
        [
            chunk({"reasoning_content": "Hmm."}),
            chunk({"thinking_blocks": [signed]}),
            chunk({"thinking_blocks": [redacted]}),
            chunk({"content": "Yes."}),
            chunk({}, "stop"),
        ]
    )
    assert check_stream(events) == [
        signed,
        redacted,
        {"type": "text", "text": "Yes."},
    ]
    names = [(n, d.get("delta", {}).get("type")) for n, d in events]
    assert (
        names.index(("content_block_delta", "signature_delta"))
        == names.index(("content_block_stop", None)) - 1
    )
