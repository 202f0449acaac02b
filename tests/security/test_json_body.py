"""JSON bodies: nesting depth and string length bounded, with the offending field named."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from gateway.app import create_app
from gateway.errors import InvalidRequest
from gateway.security.json_body import parse_json_body
from gateway.settings import Settings
from tests.conftest import AppClient


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


def test_brackets_inside_strings_are_no_nesting(bounded: Settings) -> None:
    # More brackets than the depth bound, all in strings: the full walk decides, and passes.
    body = {"a": "[[[[[{{{{{", "b": ["]]]]"]}
    assert parse_json_body(orjson.dumps(body), bounded) == body


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


async def test_bounds_hold_on_the_chat_and_admin_routes(
    aiohttp_client: AppClient, bounded: Settings
) -> None:
    """Every JSON-reading route applies the bounds: chat, embeddings, providers, keys, /test."""
    client = await aiohttp_client(create_app(bounded))
    deep = {"a": {"b": {"c": {"d": {}}}}}
    long = "y" * 1025
    hello = [{"role": "user", "content": "hi"}]
    cases = [
        ("/v1/chat/completions", {"model": "m", "messages": hello, "metadata": deep},
         "metadata.a.b.c"),
        ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": long}]},
         "messages.0.content"),
        ("/v1/embeddings", {"model": "m", "input": [long]}, "input.0"),
        ("/api/v1/providers", {"name": "p", "template": "openai", "extra_headers": deep},
         "extra_headers.a.b.c"),
        ("/api/v1/providers", {"name": long, "template": "openai"}, "name"),
        ("/api/v1/keys", {"name": long}, "name"),
    ]  # fmt: skip
    for path, body, param in cases:
        response = await client.post(path, json=body)
        assert response.status == 400, (path, await response.text())
        error = (await response.json())["error"]
        assert error["param"] == param, path
        assert long not in error["message"]
    assert (await (await client.get("/api/v1/providers")).json())["data"] == []


async def test_control_characters_are_refused_in_admin_bodies(
    aiohttp_client: AppClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    for body, param in (
        ({"id": "p\x00", "name": "p", "template": "openai"}, "id"),
        ({"name": "p\x1b[2J", "template": "openai"}, "name"),
        ({"name": "p", "template": "openai", "extra_headers": {"X-A": "v\r\nX-B: 1"}},
         "extra_headers"),
    ):  # fmt: skip
        response = await client.post("/api/v1/providers", json=body)
        assert response.status == 400, body
        assert (await response.json())["error"]["param"].startswith(param), body
    key = await client.post("/api/v1/keys", json={"name": "k\x07"})
    assert key.status == 400
    assert (await key.json())["error"]["param"] == "name"
    assert (await (await client.get("/api/v1/providers")).json())["data"] == []


def test_structure_is_counted_before_parsing(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(security={"max_json_containers": 100, "max_json_items": 1000})
    many = orjson.dumps({"messages": [{} for _ in range(101)]})
    items = orjson.dumps({"input": list(range(1001))})
    for raw in (many, items, b"[" + b"{}," * 5000):  # the last is not even valid JSON
        with pytest.raises(InvalidRequest) as caught:
            parse_json_body(raw, settings)
        assert caught.value.code == "json_too_complex"
    # Brackets and commas inside strings are text, not structure.
    text = {"content": "{[,]}" * 10_000, "list": list(range(800)), "objects": [{}] * 97}
    assert parse_json_body(orjson.dumps(text), settings) == text
    escaped = {"content": '\\"{[' * 1000 + '"'}
    assert parse_json_body(orjson.dumps(escaped), settings) == escaped


async def test_a_large_complex_body_is_refused_on_the_chat_route(
    aiohttp_client: AppClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    raw = b'{"model":"m","messages":[' + b"{}," * 400_000 + b"{}]}"  # over 1 MiB: off the loop
    answer = await client.post(
        "/v1/chat/completions", data=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400
    assert (await answer.json())["error"]["code"] == "json_too_complex"
