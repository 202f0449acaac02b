"""The upstream boundary over real HTTP: SSE, timeouts (streams too), errors, the body cap."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.adapters.base import UpstreamRequest
from gateway.adapters.sse import iter_data
from gateway.app import create_app
from gateway.settings import Settings, UpstreamSettings
from gateway.upstream import Upstream, UpstreamBroken, UpstreamUnreachable, upstream_error
from tests.fakes.base import API_KEY
from tests.fakes.http_proxy import ForwardProxy
from tests.fakes.openai_upstream import FakeOpenAI

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


async def ticks(request: web.Request) -> web.StreamResponse:
    """A stream that outlives every non-stream deadline below: a chunk every 50 ms for 0.8 s."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for n in range(16):
        await response.write(b"data: %d\n\n" % n)
        await asyncio.sleep(0.05)
    return response


@pytest.fixture
async def ticking() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/ticks", ticks)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def test_a_long_stream_is_not_cut_by_the_provider_timeout(ticking: TestServer) -> None:
    """Scaled down: a provider timeout of 0.3 s and a total of 0.3 s against a 0.8 s stream
    (a reasoning model streaming for minutes past a 60 s timeout_s)."""
    settings = UpstreamSettings(total_timeout_s=0.3, idle_timeout_s=0.3, max_stream_s=5)  # type: ignore[call-arg]
    upstream = Upstream(settings)
    await upstream.start()
    try:
        response = await upstream.send(get(ticking, "/ticks"), 0.3, stream=True)
        payloads = [payload async for payload in iter_data(response.iter_chunks())]
        assert payloads == [b"%d" % n for n in range(16)]
        response = await upstream.send(get(ticking, "/ticks"), 0.3)  # not a stream: cut
        with pytest.raises(UpstreamBroken) as cut:
            await response.read()
        assert cut.value.timed_out
    finally:
        await upstream.close()


async def test_a_stream_ends_at_max_stream_s(ticking: TestServer) -> None:
    settings = UpstreamSettings(idle_timeout_s=0.3, max_stream_s=0.3)  # type: ignore[call-arg]
    upstream = Upstream(settings)
    await upstream.start()
    try:
        response = await upstream.send(get(ticking, "/ticks"), 60, stream=True)
        seen: list[bytes] = []
        with pytest.raises(UpstreamBroken) as caught:
            async for payload in iter_data(response.iter_chunks()):
                seen.append(payload)
        assert 2 <= len(seen) < 16
        error = upstream_error("p", caught.value)
        assert error.http_status == 504 and "longer than 0.3s" in error.message
    finally:
        await upstream.close()


async def test_stream_timeouts_follow_settings() -> None:
    upstream = Upstream(UpstreamSettings(first_byte_timeout_s=120, max_stream_s=900))  # type: ignore[call-arg]
    assert upstream.timeouts(60, stream=True).first_byte == 60
    assert upstream.timeouts(60, stream=True).total == 900
    assert upstream.timeouts(60).total == 60


async def test_a_body_over_the_cap_is_a_502_naming_the_cap(server: TestServer) -> None:
    upstream = Upstream(UpstreamSettings(max_body_bytes=1024))  # type: ignore[call-arg]
    await upstream.start()
    try:
        big = UpstreamRequest("POST", str(server.make_url("/echo")), {}, b"x" * 4096)
        response = await upstream.send(big, 30)
        with pytest.raises(UpstreamBroken) as caught:
            await response.read()
        error = upstream_error("p", caught.value)
        assert error.http_status == 502 and error.code == "upstream_too_large"
        assert "upstream.max_body_bytes (1024 bytes)" in error.message
    finally:
        await upstream.close()


async def test_a_providers_proxy_and_failure_reasons_through_the_gateway(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A provider's own proxy carries its calls; each failure's reason reaches the client
    and the log."""
    settings = make_settings(health={"enabled": False}, catalog={"prefetch": False})
    client = await aiohttp_client(create_app(settings))
    hello = {"model": "model-a", "messages": [{"role": "user", "content": "hi"}]}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    async with FakeOpenAI() as fake, ForwardProxy() as proxy:
        providers = {
            "proxied": (f"http://upstream.test:{fake.port}/v1", proxy.url()),
            "refused": (f"http://127.0.0.1:{closed}/v1", None),
            "nowhere": ("http://no-such-host.invalid/v1", None),
        }
        proxy.hosts["upstream.test"] = "127.0.0.1"
        for pid, (url, via) in providers.items():
            body = {"id": pid, "name": pid, "template": "openai", "api_key": API_KEY,
                    "base_url": url, "proxy": via}  # fmt: skip
            assert (await client.post("/api/v1/providers", json=body)).status == 201
        chat = await client.post(
            "/v1/chat/completions", json=hello, headers={"X-Gateway-Provider": "proxied"}
        )
        assert chat.status == 200, await chat.text()
        assert [target for _, target, _ in proxy.seen] == [
            f"http://upstream.test:{fake.port}/v1/chat/completions"
        ]
        for pid, reason in (("refused", "refused"), ("nowhere", "could not be resolved")):
            chat = await client.post(
                "/v1/chat/completions", json=hello, headers={"X-Gateway-Provider": pid}
            )
            error = (await chat.json())["error"]
            assert chat.status == 502 and error["code"] == "upstream_unreachable"
            assert reason in error["message"], error
            assert any(
                pid in record.getMessage() and reason in record.getMessage()
                for record in caplog.records
                if record.name == "gateway.upstream"
            )
        with_credentials = {"name": "x", "template": "openai", "api_key": API_KEY,
                            "proxy": "http://user:secret@proxy.example:3128"}  # fmt: skip
        refused = await client.post("/api/v1/providers", json=with_credentials)
        assert refused.status == 400
        error = (await refused.json())["error"]
        assert error["param"] == "proxy" and "secret" not in error["message"]
