"""The upstream client over real HTTP: SSE parsing, timeouts, connection errors, pooling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.adapters.base import UpstreamRequest
from gateway.adapters.sse import iter_data
from gateway.settings import UpstreamSettings
from gateway.upstream import Upstream, UpstreamBroken, UpstreamUnreachable

PIECES = [
    b': comment\n\nevent: message_start\ndata: {"a"',
    b": 1}\n\r\ndata: line one\ndata: line two\n\nid: 7\nda",
    b'ta:{"no":"space"}\r\n\r\n',
    b"data: [DONE]\n\n",
    b'data: {"after": "done"}\n\n',
]


async def sse_pieces(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for piece in PIECES:
        await response.write(piece)
        await asyncio.sleep(0.01)  # each piece arrives on its own
    return response


async def stalls(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"data: 1\n\n")
    await asyncio.sleep(5)
    return response


async def slow_headers(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response()


async def echo_headers(request: web.Request) -> web.Response:
    return web.json_response(
        {"content_type": request.headers.get("Content-Type"), "body": (await request.text())}
    )


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/sse", sse_pieces)
    app.router.add_get("/stalls", stalls)
    app.router.add_get("/slow", slow_headers)
    app.router.add_post("/echo", echo_headers)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    client = Upstream(
        UpstreamSettings(first_byte_timeout_s=0.3, idle_timeout_s=0.3, pool_size=7)  # type: ignore[call-arg]
    )
    await client.start()
    yield client
    await client.close()


def get(server: TestServer, path: str) -> UpstreamRequest:
    return UpstreamRequest("GET", str(server.make_url(path)), {})


async def test_sse_payloads_across_splits(server: TestServer, upstream: Upstream) -> None:
    response = await upstream.send(get(server, "/sse"), 30)
    payloads = [payload async for payload in iter_data(response.iter_chunks())]
    response.close()
    assert payloads == [b'{"a": 1}', b"line one\nline two", b'{"no":"space"}']


async def test_idle_timeout_between_chunks(server: TestServer, upstream: Upstream) -> None:
    response = await upstream.send(get(server, "/stalls"), 30)
    seen = []
    with pytest.raises(UpstreamBroken) as info:
        async for payload in iter_data(response.iter_chunks()):
            seen.append(payload)
    response.close()
    assert seen == [b"1"]
    assert info.value.timed_out and info.value.reason == "the upstream sent nothing for 0.3s"


async def test_first_byte_timeout_and_connect_error(server: TestServer, upstream: Upstream) -> None:
    with pytest.raises(UpstreamUnreachable) as info:
        await upstream.send(get(server, "/slow"), 30)
    assert info.value.timed_out
    closed = UpstreamRequest("GET", "http://127.0.0.1:1/x", {})
    with pytest.raises(UpstreamUnreachable) as info:
        await upstream.send(closed, 30)
    assert not info.value.timed_out
    assert info.value.reason == "could not connect: the connection was refused"


async def test_body_is_sent_as_json_and_timeouts_follow_settings(
    server: TestServer, upstream: Upstream
) -> None:
    request = UpstreamRequest("POST", str(server.make_url("/echo")), {}, b'{"x":1}')
    response = await upstream.send(request, 30)
    assert await response.read() == b'{"content_type": "application/json", "body": "{\\"x\\":1}"}'
    assert upstream.timeouts(5.0).total == 5.0
    assert upstream.timeouts(10_000.0).total == upstream.settings.total_timeout_s
