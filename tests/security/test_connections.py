"""Incoming connections as the real server runs them: deadlines, a per-client cap, and
aiohttp's parser errors in OpenAI's error shape."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import orjson
import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.connections import GatewayRunner
from gateway.settings import Settings

Server = tuple[str, int]


Serve = Callable[..., contextlib.AbstractAsyncContextManager[Server]]


@pytest.fixture
def serve(make_settings: Callable[..., Settings]) -> Serve:
    @contextlib.asynccontextmanager
    async def start(**server: float) -> AsyncIterator[Server]:
        settings = make_settings(server=server, health={"enabled": False})
        runner = GatewayRunner(
            create_app(settings), settings, handle_signals=False, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            yield host, port
        finally:
            await runner.cleanup()

    return start


async def closed_after(reader: asyncio.StreamReader, limit_s: float) -> float:
    """Seconds until the server closed the connection (reading everything it sent)."""
    started = time.monotonic()
    while await asyncio.wait_for(reader.read(65536), limit_s):
        pass
    return time.monotonic() - started


async def health_s(session: aiohttp.ClientSession, server: Server) -> float:
    started = time.monotonic()
    async with session.get(f"http://{server[0]}:{server[1]}/api/v1/health") as answer:
        assert answer.status == 200
    return time.monotonic() - started


async def test_slow_and_idle_connections_are_cut_on_time(
    serve: Serve,
) -> None:
    async with serve(request_timeout_s=0.4, keepalive_timeout_s=0.8) as server:
        idle = [await asyncio.open_connection(*server) for _ in range(3)]
        slow = [await asyncio.open_connection(*server) for _ in range(3)]
        for _, writer in slow:
            writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n")

        async def trickle() -> None:  # one header byte at a time, as slowloris does
            for _ in range(30):
                await asyncio.sleep(0.05)
                for _, writer in slow:
                    if not writer.is_closing():
                        writer.write(b"X")

        trickling = asyncio.create_task(trickle())
        async with aiohttp.ClientSession() as session:
            assert await health_s(session, server) < 1.0  # health stays fast meanwhile
            slow_cut = [await closed_after(reader, 3.0) for reader, _ in slow]
            idle_cut = [await closed_after(reader, 3.0) for reader, _ in idle]
            assert await health_s(session, server) < 1.0
        trickling.cancel()
        assert max(slow_cut) < 1.5  # the 0.4 s request deadline, not the idle one
        assert max(idle_cut) < 2.0
        for _, writer in idle + slow:
            writer.close()


async def test_connections_per_client_are_capped(
    serve: Serve,
) -> None:
    async with serve(max_connections_per_client=2, keepalive_timeout_s=30) as server:
        held = [await asyncio.open_connection(*server) for _ in range(2)]
        reader, writer = await asyncio.open_connection(*server)
        assert await closed_after(reader, 2.0) < 1.0  # the third is refused at once
        writer.close()
        for _, held_writer in held:
            held_writer.close()
            await held_writer.wait_closed()
        for _ in range(50):  # a slot is free again once the server saw them go
            reader, writer = await asyncio.open_connection(*server)
            writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            answer = await reader.read(12)
            writer.close()
            if answer:
                break
            await asyncio.sleep(0.05)
        assert answer == b"HTTP/1.1 200"


MALFORMED = {
    "bad method": b"GE(T / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "NUL in a header": b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\n\r\n",
    "header over 16 KB": b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: " + b"a" * 17000 + b"\r\n\r\n",
    "too many headers": b"GET / HTTP/1.1\r\n" + b"X-A: a\r\n" * 200 + b"\r\n",
    "request line over 8 KB": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "Content-Length -1": b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
    "Content-Length and Transfer-Encoding": b"POST / HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
}


async def test_parser_errors_are_openai_errors_with_security_headers(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serve() as server:
        for name, raw in MALFORMED.items():
            reader, writer = await asyncio.open_connection(*server)
            writer.write(raw)
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            head, _, body = answer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            assert lines[0].startswith("HTTP/1.") and lines[0][9] == "4", (name, lines[0])
            headers = {k.lower(): v for k, _, v in (h.partition(": ") for h in lines[1:])}
            assert headers["content-type"].startswith("application/json"), name
            assert headers["x-content-type-options"] == "nosniff", name
            assert headers["server"] == "gateway", name
            error = orjson.loads(body)["error"]
            assert set(error) == {"message", "type", "param", "code"}, name
            assert error["code"] == "malformed_request", name
    records = [r for r in caplog.records if r.name.startswith(("gateway", "aiohttp"))]
    assert not [r for r in records if r.levelno >= logging.ERROR]
    assert not [r for r in records if r.exc_info]
    warned = [r for r in records if r.name == "gateway.connections"]
    assert len(warned) == len(MALFORMED)
    assert all(r.levelno == logging.WARNING for r in warned)
