"""JSON bodies: nesting depth and string length bounded, with the offending field named."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from gateway.errors import InvalidRequest
from gateway.security.json_body import parse_json_body
from gateway.settings import Settings


@pytest.fixture
def bounded(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(security={"max_json_depth": 4, "max_string_length": 1024})


def test_within_bounds(bounded: Settings) -> None:
    body = {"a": [{"b": "x" * 1024}], "n": 1, "t": True, "z": None}
    assert parse_json_body(orjson.dumps(body), bounded) == body


def test_depth(bounded: Settings) -> None:
    assert parse_json_body(b"[[[[1]]]]", bounded) == [[[[1]]]]
    for raw in (b"[[[[[1]]]]]", b'{"a":{"b":{"c":{"d":{}}}}}'):
        with pytest.raises(InvalidRequest) as caught:
            parse_json_body(raw, bounded)
        assert "nested" in caught.value.message
    with pytest.raises(InvalidRequest) as caught:
        parse_json_body(b'{"messages":[{"content":[{"deep":[]}]}]}', bounded)
    assert caught.value.param == "messages.0.content.0"  # the fifth level
    # Beyond the parser's own recursion limit: still a clean 400.
    with pytest.raises(InvalidRequest):
        parse_json_body(b"[" * 5000 + b"]" * 5000, bounded)


def test_string_length(bounded: Settings) -> None:
    long = "y" * 1025
    cases = [
        ({"messages": [{"role": "user", "content": long}]}, "messages.0.content"),
        ({"list": ["ok", long]}, "list.1"),
        ({long: 1}, None),
    ]
    for body, param in cases:
        with pytest.raises(InvalidRequest) as caught:
            parse_json_body(orjson.dumps(body), bounded)
        assert caught.value.param == param
        assert long not in caught.value.message
    with pytest.raises(InvalidRequest):
        parse_json_body(orjson.dumps(long), bounded)


@pytest.mark.parametrize("raw", [b"", b"  ", b"{", b"\xff", b"{'a': 1}", b"NaN"])
def test_not_json(raw: bytes, bounded: Settings) -> None:
    with pytest.raises(InvalidRequest):
        parse_json_body(raw, bounded)
