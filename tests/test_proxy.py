"""gateway/proxy/ streams: keep-alive before the upstream answers, fallback inside a
committed stream, upstreams that answer a stream request with JSON, client disconnects."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.adapters.base import StreamUsage
from gateway.settings import Settings
from gateway.usage import USAGE_HOOKS
from tests.conftest import AppClient
from tests.fakes.base import API_KEY, Fault, Reply
from tests.fakes.openai_upstream import FakeOpenAI
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app

Client = TestClient[web.Request, web.Application]
KEEPALIVE = b": keep-alive"
UsageRecord = tuple[str, str, StreamUsage]


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeOpenAI, FakeOpenAI]]:
    async with FakeOpenAI() as a, FakeOpenAI() as b:
        yield a, b


@pytest.fixture
def usage() -> list[UsageRecord]:
    return []


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: tuple[FakeOpenAI, FakeOpenAI],
    usage: list[UsageRecord],
) -> Client:
    """Model ``m``: provider a first, then b; keep-alive every 0.2 s."""
    a, b = fakes
    settings = make_settings(server={"sse_comment_interval_s": 0.2}, **QUIET)
    app = gateway_app(
        settings,
        {"provider_id": "a", "base_url": a.url, "serves": ("m",), "api_key": API_KEY,
         "priority": 2},
        {"provider_id": "b", "base_url": b.url, "serves": ("m",), "api_key": API_KEY,
         "priority": 1},
    )  # fmt: skip
    app[USAGE_HOOKS].append(lambda _request, pid, model, seen: usage.append((pid, model, seen)))
    return await aiohttp_client(app, server_kwargs=SERVER_KWARGS)


async def post_stream(client: Client, model: str = "m", **body: Any) -> Any:
    return await client.post(
        "/api/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True,
              **body},
    )  # fmt: skip


def blocks(raw: bytes) -> list[bytes]:
    return [block for block in raw.split(b"\n\n") if block]


def chunks(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(b[6:]) for b in blocks(raw) if b.startswith(b"data: {")]


def text_of(raw: bytes) -> str:
    return "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks(raw) if c["choices"]
    )


async def test_keepalive_before_the_upstream_answers_at_all(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    a, _ = fakes
    a.fault = Fault(first_byte_delay=0.7)
    started = time.monotonic()
    response = await post_stream(gateway)
    # The gateway commits to SSE after one interval instead of waiting for the upstream.
    assert time.monotonic() - started < 0.6
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 0.5)
    assert first == KEEPALIVE + b"\n\n"
    raw = await asyncio.wait_for(response.read(), 5)
    got = blocks(raw)
    assert got[0] == KEEPALIVE  # another comment, still before the first token
    assert got[-1] == b"data: [DONE]"
    assert text_of(raw) == Reply().text
    assert len(fakes[1].requests) == 0


@pytest.mark.parametrize("fault", [Fault(first_byte_delay=0.5, status=500),
                                   Fault(first_event_delay=0.5, reset_after=0)])  # fmt: skip
async def test_failure_after_commit_falls_back_inside_the_stream(
    gateway: Client,
    fakes: tuple[FakeOpenAI, FakeOpenAI],
    usage: list[UsageRecord],
    fault: Fault,
) -> None:
    a, b = fakes
    a.fault = fault
    b.reply = Reply(text="served by b")
    response = await post_stream(gateway, stream_options={"include_usage": True})
    assert response.status == 200
    raw = await asyncio.wait_for(response.read(), 5)
    got = blocks(raw)
    assert got[0] == KEEPALIVE
    assert b'"error"' not in raw
    assert got[-1] == b"data: [DONE]"
    assert text_of(raw) == "served by b"
    assert len(a.requests) == 1 and len(b.requests) == 1
    assert [(pid, seen.completion_tokens) for pid, _, seen in usage] == [("b", 7)]


async def test_reset_before_the_first_chunk_falls_back_with_proper_headers(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    a, b = fakes
    a.fault = Fault(reset_after=0)
    response = await post_stream(gateway)
    assert response.status == 200
    assert response.headers["X-Gateway-Provider"] == "b"
    raw = await asyncio.wait_for(response.read(), 5)
    assert KEEPALIVE not in raw
    assert blocks(raw)[-1] == b"data: [DONE]"
    assert len(a.requests) == 1 and len(b.requests) == 1


@pytest.mark.parametrize(("status", "code"), [(503, "upstream_error"), (400, None)])
async def test_final_failure_after_commit_is_one_error_event(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI], status: int, code: str | None
) -> None:
    for fake in fakes:
        fake.fault = Fault(first_byte_delay=0.3, status=status)
    response = await post_stream(gateway)
    assert response.status == 200
    got = blocks(await asyncio.wait_for(response.read(), 5))
    assert got[0] == KEEPALIVE
    assert all(block == KEEPALIVE for block in got[:-1])
    error = orjson.loads(got[-1].removeprefix(b"data: "))["error"]
    assert error["code"] == code
    assert ("Invalid request: bad parameter" if status == 400 else "Service overloaded") in error[
        "message"
    ]
    # A 400 is not retried; a 503 is.
    assert len(fakes[1].requests) == (1 if status == 503 else 0)


async def test_failure_before_the_interval_is_still_an_http_error(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    for fake in fakes:
        fake.fault = Fault(status=503)
    response = await post_stream(gateway)
    assert response.status == 502
    assert (await response.json())["error"]["message"].endswith("Service overloaded")


async def test_json_answer_to_a_stream_request_becomes_chunks(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI], usage: list[UsageRecord]
) -> None:
    a, _ = fakes
    a.ignores_stream = True
    a.reply = Reply(text="whole answer", prompt_tokens=3, completion_tokens=2)
    response = await post_stream(gateway, stream_options={"include_usage": True})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["X-Gateway-Provider"] == "a"
    raw = await response.read()
    assert blocks(raw)[-1] == b"data: [DONE]"
    got = chunks(raw)
    assert {c["object"] for c in got} == {"chat.completion.chunk"}
    assert {c["model"] for c in got} == {"m"}
    assert got[0]["choices"][0]["delta"] == {"role": "assistant", "content": "whole answer"}
    assert got[1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert got[2]["choices"] == []
    assert got[2]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert len(got) == 3
    assert [(pid, seen.prompt_tokens, seen.completion_tokens) for pid, _, seen in usage] == [
        ("a", 3, 2)
    ]


async def test_json_answer_with_tool_calls_becomes_indexed_tool_call_chunks(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    a, _ = fakes
    a.ignores_stream = True
    a.reply = Reply(tool_calls=[("get_weather", {"city": "Paris"}), ("get_time", {})])
    got = chunks(await (await post_stream(gateway)).read())
    calls = got[0]["choices"][0]["delta"]["tool_calls"]
    assert [(c["index"], c["id"], c["function"]["name"]) for c in calls] == [
        (0, "call_fake0", "get_weather"),
        (1, "call_fake1", "get_time"),
    ]
    assert orjson.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    assert got[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert all("usage" not in c for c in got)  # not asked for


async def test_malformed_json_answer_to_a_stream_request(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    for fake in fakes:
        fake.ignores_stream = True
        fake.fault = Fault(malformed=True)
    early = await post_stream(gateway)
    assert early.status == 502  # nothing was sent yet: a proper HTTP error
    assert (await early.json())["error"]["type"] == "upstream_error"
    for fake in fakes:
        fake.fault = Fault(malformed=True, first_byte_delay=0.3)
    late = await post_stream(gateway)
    assert late.status == 200
    got = blocks(await asyncio.wait_for(late.read(), 5))
    assert got[0] == KEEPALIVE
    assert orjson.loads(got[-1].removeprefix(b"data: "))["error"]["type"] == "upstream_error"


async def test_error_body_with_200_surfaces_the_upstream_message(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    async def overloaded(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "model is overloaded"}})

    upstream_app = web.Application()
    upstream_app.router.add_post("/v1/chat/completions", overloaded)
    upstream = await aiohttp_client(upstream_app)
    settings = make_settings(**QUIET)
    app = gateway_app(
        settings, {"provider_id": "x", "base_url": str(upstream.make_url("/v1")), "serves": ("m",)}
    )
    client = await aiohttp_client(app, server_kwargs=SERVER_KWARGS)
    response = await post_stream(client)
    assert response.status == 502
    assert "model is overloaded" in (await response.json())["error"]["message"]


async def test_client_leaving_while_waiting_for_the_first_chunk_cancels_the_upstream(
    gateway: Client,
    fakes: tuple[FakeOpenAI, FakeOpenAI],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, _ = fakes
    a.fault = Fault(first_event_delay=30)
    response = await post_stream(gateway)
    assert await response.content.readuntil(b"\n\n") == KEEPALIVE + b"\n\n"
    response.close()
    await asyncio.wait_for(a.disconnected.wait(), 1.0)
    await asyncio.sleep(0.3)  # a keep-alive tick after the client left
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_client_leaving_before_the_upstream_answers_cancels_it(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = fakes
    a.fault = Fault(first_byte_delay=30)
    response = await post_stream(gateway)
    assert await response.content.readuntil(b"\n\n") == KEEPALIVE + b"\n\n"
    response.close()
    await asyncio.wait_for(a.disconnected.wait(), 1.0)
    await asyncio.sleep(0.3)
    assert not b.requests  # a client that left is no reason to try the next provider
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_request_a_later_candidate_cannot_translate_ends_the_committed_stream(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: tuple[FakeOpenAI, FakeOpenAI],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, _ = fakes
    a.fault = Fault(first_byte_delay=0.3, status=503)
    settings = make_settings(server={"sse_comment_interval_s": 0.1}, **QUIET)
    app = gateway_app(
        settings,
        {"provider_id": "a", "base_url": a.url, "serves": ("m",), "api_key": API_KEY,
         "priority": 2},
        # Anthropic answers one choice: its adapter refuses n=2 before any upstream call.
        {"provider_id": "c", "base_url": "http://127.0.0.1:1", "serves": ("m",),
         "template": "anthropic", "priority": 1},
    )  # fmt: skip
    client = await aiohttp_client(app, server_kwargs=SERVER_KWARGS)
    response = await post_stream(client, n=2)
    assert response.status == 200
    got = blocks(await asyncio.wait_for(response.read(), 5))
    assert got[0] == KEEPALIVE
    error = orjson.loads(got[-1].removeprefix(b"data: "))["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "n")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("at", [0, 2])
async def test_a_stream_event_over_the_cap_ends_with_502_naming_the_cap(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: tuple[FakeOpenAI, FakeOpenAI],
    at: int,
) -> None:
    """Before the first chunk: a 502 answer; later: the final error event. Both name the cap."""
    cap = 64 * 1024
    settings = make_settings(upstream={"max_event_bytes": cap}, **QUIET)
    app = gateway_app(
        settings,
        *({"provider_id": n, "base_url": f.url, "serves": ("m",), "api_key": API_KEY}
          for n, f in zip("ab", fakes, strict=True)),
    )  # fmt: skip
    client = await aiohttp_client(app, server_kwargs=SERVER_KWARGS)
    for fake in fakes:
        fake.fault = Fault(oversized_event_at=at, oversized_bytes=4 * cap)
    response = await post_stream(client)
    if at == 0:
        assert response.status == 502
        error = (await response.json())["error"]
    else:
        assert response.status == 200
        got = blocks(await asyncio.wait_for(response.read(), 5))
        assert text_of(b"\n\n".join(got[:-1]))  # the chunks before it were relayed
        error = orjson.loads(got[-1].removeprefix(b"data: "))["error"]
    assert error["code"] == "upstream_event_too_large"
    assert f"{cap} bytes (upstream.max_event_bytes)" in error["message"]


async def test_a_stream_event_that_is_not_json_ends_the_stream_with_an_error(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    """The fake's second event is ``data: {not json``: never relayed as a success."""
    for fake in fakes:
        fake.fault = Fault(malformed=True)
    response = await post_stream(gateway)
    assert response.status == 200
    got = blocks(await asyncio.wait_for(response.read(), 5))
    assert b"{not json" not in b"".join(got)
    assert got[-1] != b"data: [DONE]"
    error = orjson.loads(got[-1].removeprefix(b"data: "))["error"]
    assert error["type"] == "upstream_error"
    assert "not JSON" in error["message"]
