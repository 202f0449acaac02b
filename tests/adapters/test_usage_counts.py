"""StreamUsage.from_openai: token details survive, junk counts as nothing."""

from __future__ import annotations

from gateway.adapters.base import StreamUsage


def test_details_are_read() -> None:
    usage = StreamUsage.from_openai(
        {
            "prompt_tokens": 120,
            "completion_tokens": 40,
            "prompt_tokens_details": {"cached_tokens": 100},
            "completion_tokens_details": {"reasoning_tokens": 30},
        }
    )
    assert usage == StreamUsage(120, 40, cached_tokens=100, reasoning_tokens=30)


def test_junk_counts_as_zero() -> None:
    usage = StreamUsage.from_openai(
        {
            "prompt_tokens": True,
            "completion_tokens": "7",
            "prompt_tokens_details": None,
            "completion_tokens_details": {"reasoning_tokens": -3},
        }
    )
    assert usage == StreamUsage()
