"""Both clients of the transport boundary over real sockets, on asyncio's loop and on uvloop.

The servers (tests/http/servers.py) write hand-crafted bytes and report what they
saw. Cases marked ``aiohttp_differs`` are where aiohttp's client fails (asserted).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
import time
import zlib
from collections.abc import Awaitable
from pathlib import Path

import pytest
import uvloop
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.http import (
    ConnectFailed,
    ConnectionPool,
    Disconnected,
    MalformedResponse,
    Timeouts,
)
from gateway.security.ssrf import GuardedResolver
from gateway.transport import UpstreamResponse
from tests.http.conftest import Client, MakeClient, idle, in_use
from tests.http.servers import (
    QUICK,
    Handler,
    Raw,
    RawServer,
    StartServer,
    Tracker,
    answers,
    get,
    get_body,
    ok,
    reset_after,
    self_signed,
    settle,
)


async def test_both_loops_are_used(request: pytest.FixtureRequest) -> None:
    on_uvloop = isinstance(asyncio.get_running_loop(), uvloop.Loop)
    assert on_uvloop is request.node.callspec.id.startswith("uvloop")


# -- keep-alive ----------------------------------------------------------------------


async def test_sequential_requests_reuse_one_connection(pool: Client) -> None:
    peers: list[object] = []

    async def hello(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        return web.Response(text="hello " + request.query.get("n", ""))

    app = web.Application()
    app.router.add_get("/", hello)
    async with TestServer(app, host="127.0.0.1") as server:
        for n in range(4):
            assert await get_body(pool, str(server.make_url(f"/?n={n}"))) == b"hello %d" % n
            assert in_use(pool) == 0 and idle(pool) == 1
    assert len(peers) == 4 and len(set(peers)) == 1


async def test_keep_alive_over_chunked_answers(pool: Client, raw_server: StartServer) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    server = await raw_server(answers(chunked, chunked, ok(b"done")))
    assert await get_body(pool, server.url()) == b"abc"
    assert await get_body(pool, server.url()) == b"abc"
    assert await get_body(pool, server.url()) == b"done"
    assert server.connections == 1


async def test_connection_close_is_not_reused(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(answers(ok(b"one", b"Connection: close"), ok(b"never")))
    assert await get_body(pool, server.url()) == b"one"
    assert await get_body(pool, server.url()) == b"one"
    assert server.connections == 2
    await settle()
    assert server.disconnects == 2 and in_use(pool) == 0 and idle(pool) == 0


async def test_until_close_answer(pool: Client, raw_server: StartServer) -> None:
    async def until_close(raw: Raw) -> None:
        await raw.request()
        await raw.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ")
        await asyncio.sleep(0.02)
        await raw.send(b"part two")
        raw.writer.close()

    server = await raw_server(until_close)
    for _ in range(2):
        response = await get(pool, server.url())
        assert (response.status, response.content_type) == (200, "text/plain")
        assert await response.read() == b"part one, part two"
    assert server.connections == 2 and in_use(pool) == 0 and idle(pool) == 0


async def test_http10_answer_is_not_reused(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(answers(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", ok()))
    assert await get_body(pool, server.url()) == b"hi"
    assert await get_body(pool, server.url()) == b"hi"
    assert server.connections == 2


async def test_http10_keep_alive_is_reused(pool: Client, raw_server: StartServer) -> None:
    answer = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
    server = await raw_server(answers(answer, answer))
    assert await get_body(pool, server.url()) == b"hi"
    assert await get_body(pool, server.url()) == b"hi"
    assert server.connections == 1


@pytest.mark.aiohttp_differs("it reuses a connection with bytes left after the body")
async def test_bytes_after_the_body_drop_the_connection(
    pool: Client, raw_server: StartServer
) -> None:
    server = await raw_server(answers(ok(b"hi") + b"HTTP/1.1 200 OK\r\n", ok(b"no")))
    assert await get_body(pool, server.url()) == b"hi"
    assert await get_body(pool, server.url()) == b"hi"
    assert server.connections == 2


@pytest.mark.aiohttp_differs("a connection closed while idle stays in its pool until reused")
async def test_server_closing_an_idle_connection(pool: Client, raw_server: StartServer) -> None:
    async def one_then_close(raw: Raw) -> None:
        await raw.request()
        await raw.send(ok(b"once"))
        raw.writer.close()

    server = await raw_server(one_then_close)
    assert await get_body(pool, server.url()) == b"once"
    await settle()
    assert idle(pool) == 0  # the pool noticed the close
    assert await get_body(pool, server.url()) == b"once"
    assert server.connections == 2 and in_use(pool) == 0


async def test_server_resetting_an_idle_connection(pool: Client, raw_server: StartServer) -> None:
    async def one_then_reset(raw: Raw) -> None:
        await raw.request()
        await raw.send(ok(b"once"))
        await asyncio.sleep(0.01)
        raw.reset()

    server = await raw_server(one_then_reset)
    assert await get_body(pool, server.url()) == b"once"
    await settle()
    assert await get_body(pool, server.url()) == b"once"
    assert server.connections == 2


async def test_idle_connections_expire_after_keepalive(
    raw_server: StartServer, make_client: MakeClient
) -> None:
    server = await raw_server(answers(ok(), ok()))
    pool = make_client(pool_size=10, idle_connection_s=0.05)
    try:
        assert await get_body(pool, server.url()) == b"ok"
        await asyncio.sleep(0.1)
        assert await get_body(pool, server.url()) == b"ok"
        assert server.connections == 2
        await settle()
        assert server.disconnects >= 1  # the stale one was closed, not leaked
    finally:
        await pool.close()


# -- limits --------------------------------------------------------------------------


def slow_server(delay: float = 0.05) -> Handler:
    """Answers every request on a connection after ``delay``."""

    async def handle(raw: Raw) -> None:
        while await raw.request():
            await asyncio.sleep(delay)
            await raw.send(ok())

    return handle


@pytest.mark.parametrize(("limit", "per_host"), [(2, 0), (10, 3), (3, 3)])
async def test_limits_make_requests_wait(
    raw_server: StartServer, limit: int, per_host: int, make_client: MakeClient
) -> None:
    tracker = Tracker()
    server = await raw_server(slow_server(), tracker)
    pool = make_client(pool_size=limit, pool_size_per_host=per_host)
    try:
        bodies = await asyncio.gather(*(get_body(pool, server.url()) for _ in range(9)))
        assert bodies == [b"ok"] * 9
        assert tracker.most == min(limit, per_host or limit)
        assert in_use(pool) == 0
        assert server.connections == tracker.most  # the first ones were reused
    finally:
        await pool.close()


@pytest.mark.aiohttp_differs("an idle connection to another origin lets a request past the limit")
async def test_limit_counts_every_origin(raw_server: StartServer, make_client: MakeClient) -> None:
    """A connection idle to one origin does not let a request past the limit."""
    fast = await raw_server(slow_server(0.0))
    slow = await raw_server(slow_server(0.2))
    pool = make_client(pool_size=1)
    finished: list[str] = []

    async def fetch(server: RawServer, name: str) -> None:
        assert await get_body(pool, server.url()) == b"ok"
        finished.append(name)

    try:
        await fetch(fast, "warm-up")  # leaves one idle connection to the fast origin
        busy = asyncio.ensure_future(fetch(slow, "slow"))
        await asyncio.sleep(0.02)
        assert in_use(pool) == 1
        await fetch(fast, "fast")
        await busy
        assert finished == ["warm-up", "slow", "fast"]
        assert in_use(pool) == 0
    finally:
        await pool.close()


async def test_limit_per_host_leaves_other_hosts_alone(
    raw_server: StartServer, make_client: MakeClient
) -> None:
    tracker = Tracker()
    one = await raw_server(slow_server(0.2), tracker)
    two = await raw_server(slow_server(0.0))
    pool = make_client(pool_size=10, pool_size_per_host=1)
    try:
        busy = asyncio.ensure_future(get_body(pool, one.url()))
        await asyncio.sleep(0.02)
        started = time.monotonic()
        assert await get_body(pool, two.url()) == b"ok"
        assert time.monotonic() - started < 0.15
        assert await busy == b"ok"
    finally:
        await pool.close()


async def test_waiting_request_can_be_cancelled(
    raw_server: StartServer, make_client: MakeClient
) -> None:
    server = await raw_server(slow_server(0.1))
    pool = make_client(pool_size=1)
    try:
        busy = asyncio.ensure_future(get_body(pool, server.url()))
        waiting = asyncio.ensure_future(get_body(pool, server.url()))
        await asyncio.sleep(0.02)
        waiting.cancel()
        assert await busy == b"ok"
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert in_use(pool) == 0
        assert await get_body(pool, server.url()) == b"ok"
    finally:
        await pool.close()


# -- timeouts ------------------------------------------------------------------------


async def never_answers(raw: Raw) -> None:
    await raw.request()
    await raw.wait_disconnect()


async def head_then_stall(raw: Raw) -> None:
    await raw.request()
    await raw.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n")
    await raw.wait_disconnect()


async def trickles(raw: Raw) -> None:
    await raw.request()
    await raw.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        await raw.send(b"1\r\nx\r\n")
        await asyncio.sleep(0.03)


async def timed(awaitable: Awaitable[object]) -> float:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await awaitable
    return time.monotonic() - started


async def test_first_byte_timeout(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(never_answers)
    timeouts = Timeouts(connect=1, first_byte=0.2, idle=5, total=5)
    assert 0.19 <= await timed(get(pool, server.url(), timeouts)) < 0.6
    await asyncio.wait_for(server.disconnected.wait(), 1)
    assert in_use(pool) == 0


async def test_idle_timeout_between_chunks(pool: Client, raw_server: StartServer) -> None:
    """The idle deadline applies from the head on, even when first_byte is longer."""
    server = await raw_server(head_then_stall)
    timeouts = Timeouts(connect=1, first_byte=3, idle=0.2, total=5)
    response = await get(pool, server.url(), timeouts)
    assert 0.15 <= await timed(response.read()) < 0.6
    await asyncio.wait_for(server.disconnected.wait(), 1)
    assert in_use(pool) == 0


async def test_idle_timeout_in_iter_chunks(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(head_then_stall)
    timeouts = Timeouts(connect=1, first_byte=0.2, idle=0.2, total=5)
    response = await get(pool, server.url(), timeouts)
    pieces: list[bytes] = []

    async def collect() -> None:
        async for piece in response.iter_chunks():
            pieces.append(piece)

    assert await timed(collect()) < 0.6
    assert pieces == [b"hi"]


async def test_data_arriving_keeps_the_idle_timeout_away(
    pool: Client, raw_server: StartServer
) -> None:
    server = await raw_server(trickles)
    timeouts = Timeouts(connect=1, first_byte=0.1, idle=0.1, total=0.4)
    response = await get(pool, server.url(), timeouts)
    pieces: list[bytes] = []

    async def collect() -> None:
        async for piece in response.iter_chunks():
            pieces.append(piece)

    assert 0.3 <= await timed(collect()) < 0.8  # the total, not the idle, ended it
    assert len(b"".join(pieces)) >= 5


async def test_total_timeout_covers_the_head_too(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(never_answers)
    timeouts = Timeouts(connect=1, first_byte=5, idle=5, total=0.2)
    assert await timed(get(pool, server.url(), timeouts)) < 0.6


async def test_a_timed_out_connection_is_not_reused(pool: Client, raw_server: StartServer) -> None:
    async def slow_then_fast(raw: Raw) -> None:
        await raw.request()
        await asyncio.sleep(0.3)
        await raw.send(ok(b"late"))
        await raw.request()
        await raw.send(ok(b"fast"))

    server = await raw_server(slow_then_fast)
    await timed(get(pool, server.url(), Timeouts(connect=1, first_byte=0.1, idle=1, total=1)))
    assert await get_body(pool, server.url()) == b"late"  # a new connection, a new handler
    assert server.connections == 2


async def test_connect_timeout(make_client: MakeClient) -> None:
    """A listener whose backlog is full never completes the handshake."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):  # fill the backlog so that the next SYN goes unanswered
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        pool = make_client(pool_size=1)
        try:
            timeouts = Timeouts(connect=0.2, first_byte=5, idle=5, total=5)
            started = time.monotonic()
            with pytest.raises((TimeoutError, ConnectFailed)):
                await get(pool, f"http://127.0.0.1:{port}/", timeouts)
            assert time.monotonic() - started < 1
            assert in_use(pool) == 0
        finally:
            await pool.close()
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# -- abandoning a request ------------------------------------------------------------


async def test_cancelling_while_waiting_for_the_head(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(never_answers)
    task = asyncio.ensure_future(get(pool, server.url()))
    await asyncio.sleep(0.05)
    assert in_use(pool) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(server.disconnected.wait(), 1)
    assert in_use(pool) == 0 and idle(pool) == 0


async def test_close_mid_body_drops_the_connection(pool: Client, raw_server: StartServer) -> None:
    async def half(raw: Raw) -> None:
        await raw.request()
        await raw.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        await raw.wait_disconnect()

    server = await raw_server(half)
    response = await get(pool, server.url())
    assert in_use(pool) == 1
    response.close()
    await asyncio.wait_for(server.disconnected.wait(), 1)
    assert in_use(pool) == 0 and idle(pool) == 0
    with pytest.raises(Disconnected):
        await response.read()
    response.close()  # twice is fine


async def test_close_after_the_body_keeps_the_connection(
    pool: Client, raw_server: StartServer
) -> None:
    server = await raw_server(answers(ok(b"a"), ok(b"b")))
    response = await get(pool, server.url())
    assert await response.read() == b"a"
    response.close()
    assert await get_body(pool, server.url()) == b"b"
    assert server.connections == 1


async def test_close_wakes_a_pending_read(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(head_then_stall)
    response = await get(pool, server.url())
    reading = asyncio.ensure_future(response.read())
    await asyncio.sleep(0.02)
    response.close()
    with pytest.raises(Disconnected):
        await asyncio.wait_for(reading, 1)


async def test_pool_close_fails_requests_in_flight(
    raw_server: StartServer, make_client: MakeClient
) -> None:
    server = await raw_server(never_answers)
    pool = make_client(pool_size=1)
    task = asyncio.ensure_future(get(pool, server.url()))
    await asyncio.sleep(0.05)
    await pool.close()
    with pytest.raises(Disconnected):
        await asyncio.wait_for(task, 1)
    with pytest.raises(ConnectFailed):
        await get(pool, server.url())


# -- broken answers ------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
async def test_reset_mid_body(pool: Client, raw_server: StartServer, chunked: bool) -> None:
    partial = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        if chunked
        else b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello"
    )
    server = await raw_server(reset_after(partial))
    response = await get(pool, server.url())
    with pytest.raises(Disconnected):
        await response.read()
    assert in_use(pool) == 0 and idle(pool) == 0


async def test_close_mid_body_is_disconnected(pool: Client, raw_server: StartServer) -> None:
    async def close_midway(raw: Raw) -> None:
        await raw.request()
        await raw.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
        raw.writer.close()

    server = await raw_server(close_midway)
    response = await get(pool, server.url())
    with pytest.raises(Disconnected):
        await response.read()


async def test_close_before_the_head(pool: Client, raw_server: StartServer) -> None:
    async def close_at_once(raw: Raw) -> None:
        await raw.request()
        await raw.send(b"HTTP/1.1 200 O")
        raw.writer.close()

    server = await raw_server(close_at_once)
    with pytest.raises(Disconnected):
        await get(pool, server.url())
    assert in_use(pool) == 0


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nX: " + b"x" * 70000,
    ],
)
async def test_malformed_head(pool: Client, raw_server: StartServer, answer: bytes) -> None:
    server = await raw_server(answers(answer))
    with pytest.raises(MalformedResponse):
        await get(pool, server.url())
    await asyncio.wait_for(server.disconnected.wait(), 1)
    assert in_use(pool) == 0 and idle(pool) == 0


@pytest.mark.aiohttp_differs("it hands a 101 answer back as if it were an answer")
async def test_switching_protocols_unasked(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(answers(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"))
    with pytest.raises(MalformedResponse):
        await get(pool, server.url())


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloX\r\n0\r\n\r\n",
    ],
)
async def test_malformed_chunked_body(pool: Client, raw_server: StartServer, body: bytes) -> None:
    server = await raw_server(
        answers(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    )
    with pytest.raises(MalformedResponse):  # at the head (aiohttp) or while reading (ours)
        await (await get(pool, server.url())).read()
    await asyncio.wait_for(server.disconnected.wait(), 1)
    assert in_use(pool) == 0


async def test_corrupt_gzip_body(pool: Client, raw_server: StartServer) -> None:
    body = b"\x1f\x8b\x08\x00garbage-garbage"
    answer = ok(body, b"Content-Encoding: gzip")
    server = await raw_server(answers(answer))
    response = await get(pool, server.url())
    with pytest.raises(MalformedResponse):
        await response.read()


@pytest.mark.aiohttp_differs("bytes arriving on an idle connection do not drop it")
async def test_unasked_bytes_on_an_idle_connection(pool: Client, raw_server: StartServer) -> None:
    async def chatty(raw: Raw) -> None:
        await raw.request()
        await raw.send(ok(b"one"))
        await asyncio.sleep(0.03)
        await raw.send(b"HTTP/1.1 200 OK\r\n\r\n")
        await raw.wait_disconnect()

    server = await raw_server(chatty)
    assert await get_body(pool, server.url()) == b"one"
    await asyncio.wait_for(server.disconnected.wait(), 1)
    assert idle(pool) == 0
    assert await get_body(pool, server.url()) == b"one"
    assert server.connections == 2


async def test_refused_connection(pool: Client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectFailed) as caught:
        await get(pool, f"http://127.0.0.1:{port}/secret-path?key=sk-123")
    assert "secret" not in str(caught.value) and "sk-123" not in str(caught.value)
    assert in_use(pool) == 0


# -- what arrives --------------------------------------------------------------------


async def test_interim_answers_are_skipped(pool: Client, raw_server: StartServer) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    server = await raw_server(answers(interim + ok(b"final", b"X-Final: 1"), ok(b"again")))
    response = await get(pool, server.url())
    assert response.status == 200 and response.headers["X-Final"] == "1"
    assert "Link" not in response.headers
    assert await response.read() == b"final"
    assert await get_body(pool, server.url()) == b"again"
    assert server.connections == 1


async def test_interim_answers_in_pieces(pool: Client, raw_server: StartServer) -> None:
    async def pieces(raw: Raw) -> None:
        await raw.request()
        for piece in (
            b"HTTP/1.1 100 Cont",
            b"inue\r\n\r",
            b"\nHTTP/1.1 201 Created\r\nCo",
            b"ntent-Length: 2\r\n\r\nh",
            b"i",
        ):
            await raw.send(piece)
            await asyncio.sleep(0.01)
        await raw.wait_disconnect()

    server = await raw_server(pieces)
    response = await get(pool, server.url())
    assert (response.status, response.reason) == (201, "Created")
    assert await response.read() == b"hi"


@pytest.mark.parametrize(
    "coding",
    [
        "gzip",
        pytest.param("x-gzip", marks=pytest.mark.aiohttp_differs("it does not decode x-gzip")),
        "deflate",
        "GZIP",
    ],
)
@pytest.mark.parametrize("chunked", [False, True])
async def test_compressed_answers_are_decoded(
    pool: Client, raw_server: StartServer, coding: str, chunked: bool
) -> None:
    original = b'{"choices": [' + b'{"text": "hello"},' * 500 + b"{}]}"
    packed = zlib.compress(original) if coding == "deflate" else gzip.compress(original)
    if chunked:
        middle = len(packed) // 2
        body = b"".join(
            b"%x\r\n%s\r\n" % (len(part), part) for part in (packed[:middle], packed[middle:])
        )
        answer = (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
            % coding.encode()
            + body
            + b"0\r\n\r\n"
        )
    else:
        answer = ok(packed, b"Content-Encoding: " + coding.encode())
    server = await raw_server(answers(answer, ok(b"next")))
    assert await get_body(pool, server.url()) == original
    assert await get_body(pool, server.url()) == b"next"
    assert server.connections == 1


async def test_gzip_in_aiohttp_answer(pool: Client) -> None:
    async def compressed(request: web.Request) -> web.Response:
        response = web.Response(text="squeeze me " * 200)
        response.enable_compression(web.ContentCoding.gzip)
        return response

    app = web.Application()
    app.router.add_get("/", compressed)
    async with TestServer(app, host="127.0.0.1") as server:
        headers = {"Accept-Encoding": "gzip"}
        response = await pool.request("GET", str(server.make_url("/")), headers, None, QUICK)
        assert response.headers["Content-Encoding"] == "gzip"
        assert await response.read() == b"squeeze me " * 200


async def test_head_request_has_no_body(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(
        answers(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", ok(b"after"))
    )
    response = await pool.request("HEAD", server.url(), {}, None, QUICK)
    assert response.headers["Content-Length"] == "1234"
    assert await response.read() == b""
    assert await get_body(pool, server.url()) == b"after"
    assert server.connections == 1


@pytest.mark.parametrize("status", [204, 304])
async def test_bodyless_statuses(pool: Client, raw_server: StartServer, status: int) -> None:
    server = await raw_server(answers(b"HTTP/1.1 %d X\r\n\r\n" % status, ok(b"after")))
    response = await get(pool, server.url())
    assert response.status == status and await response.read() == b""
    assert await get_body(pool, server.url()) == b"after"
    assert server.connections == 1


async def test_iter_chunks_streams_as_it_arrives(pool: Client, raw_server: StartServer) -> None:
    release = asyncio.Event()

    async def two_parts(raw: Raw) -> None:
        await raw.request()
        await raw.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await release.wait()
        await raw.send(b"6\r\nsecond\r\n0\r\n\r\n")
        await raw.wait_disconnect()

    server = await raw_server(two_parts)
    response = await get(pool, server.url())
    pieces: list[bytes] = []
    async for piece in response.iter_chunks():
        pieces.append(piece)
        release.set()
    assert pieces == [b"first", b"second"]
    assert in_use(pool) == 0 and idle(pool) == 1  # back in the pool without a close()


async def test_large_body_with_backpressure(pool: Client, raw_server: StartServer) -> None:
    big = bytes(range(256)) * 12000  # ~3 MB, past the high-water mark
    server = await raw_server(answers(ok(big), ok(b"after")))
    response = await get(pool, server.url())
    await asyncio.sleep(0.1)  # let it pile up unread, so that reading pauses
    received = bytearray()
    async for piece in response.iter_chunks():
        received += piece
        await asyncio.sleep(0)
    assert received == big
    assert await get_body(pool, server.url()) == b"after"
    assert server.connections == 1


# -- what is sent --------------------------------------------------------------------


def head_lines(request: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, _, body = request.partition(b"\r\n\r\n")
    first, *lines = head.split(b"\r\n")
    headers: dict[bytes, bytes] = {}
    for line in lines:
        name, _, value = line.partition(b": ")
        assert name.lower() not in headers, f"{name!r} sent twice"
        headers[name.lower()] = value
    return first, headers, body


async def test_defaults_and_framing_are_sent(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(answers(ok(), ok(), ok()))
    body = b'{"model": "m"}'
    response = await pool.request(
        "POST", server.url("/v1/chat/completions"), {"Authorization": "Bearer k"}, body, QUICK
    )
    await response.read()
    first, headers, sent = head_lines(server.requests[0])
    assert first == b"POST /v1/chat/completions HTTP/1.1"
    assert headers[b"host"] == b"127.0.0.1:%d" % server.port
    assert headers[b"authorization"] == b"Bearer k"
    assert headers[b"user-agent"] == b"llm-gateway"
    assert headers[b"accept-encoding"] == b"identity"
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"content-length"] == b"%d" % len(body)
    assert sent == body

    await get_body(pool, server.url())
    first, headers, sent = head_lines(server.requests[1])
    assert first == b"GET / HTTP/1.1"
    assert b"content-length" not in headers and b"content-type" not in headers
    assert sent == b""

    await (await pool.request("POST", server.url(), {}, b"", QUICK)).read()
    _, headers, _ = head_lines(server.requests[2])
    assert headers[b"content-length"] == b"0"


async def test_callers_headers_win_over_defaults(
    raw_server: StartServer, make_client: MakeClient
) -> None:
    server = await raw_server(answers(ok()))
    pool = make_client(pool_size=1, user_agent="custom-default")
    try:
        headers = {"user-agent": "mine", "ACCEPT-ENCODING": "gzip", "content-type": "text/plain"}
        await (await pool.request("POST", server.url(), headers, b"x", QUICK)).read()
    finally:
        await pool.close()
    _, sent, _ = head_lines(server.requests[0])
    assert sent[b"user-agent"] == b"mine"
    assert sent[b"accept-encoding"] == b"gzip"
    assert sent[b"content-type"] == b"text/plain"


async def test_default_user_agent_is_configurable(
    raw_server: StartServer, make_client: MakeClient
) -> None:
    server = await raw_server(answers(ok()))
    pool = make_client(pool_size=1, user_agent="custom-default")
    try:
        await get_body(pool, server.url())
    finally:
        await pool.close()
    assert head_lines(server.requests[0])[1][b"user-agent"] == b"custom-default"


async def test_large_body_is_sent_whole(pool: Client) -> None:
    async def echo_length(request: web.Request) -> web.Response:
        data = await request.read()
        return web.Response(text=f"{len(data)} {data[:3]!r} {data[-3:]!r}")

    app = web.Application(client_max_size=10 * 1024 * 1024)
    app.router.add_post("/", echo_length)
    big = b"abc" + b"." * (3 * 1024 * 1024) + b"xyz"
    async with TestServer(app, host="127.0.0.1") as server:
        response = await pool.request("POST", str(server.make_url("/")), {}, big, QUICK)
        assert await response.read() == f"{len(big)} b'abc' b'xyz'".encode()


async def test_params_are_url_encoded(pool: Client) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append((request.raw_path, dict(request.query)))
        return web.Response()

    app = web.Application()
    app.router.add_get("/{tail:.*}", record)
    async with TestServer(app, host="127.0.0.1") as server:
        base = str(server.make_url("/v1/models"))
        params = {"api-version": "2024-06-01", "q": "a b&c=d/é", "empty": ""}
        await (await pool.request("GET", base, {}, None, QUICK, params)).read()
        await (await pool.request("GET", base + "?x=1", {}, None, QUICK, params)).read()
        await (await pool.request("GET", base + "?x=1", {}, None, QUICK)).read()
        await (await pool.request("GET", base + "?x=1", {}, None, QUICK, {})).read()
    # "/" may stay as it is in a query (RFC 3986 3.4): aiohttp leaves it, we encode it.
    assert seen[0][0].replace("%2F", "/") == (
        "/v1/models?api-version=2024-06-01&q=a+b%26c%3Dd/%C3%A9&empty="
    )
    assert seen[0][1] == params
    assert seen[1][0].startswith("/v1/models?x=1&api-version=")
    assert seen[1][1] == {"x": "1", **params}
    assert seen[2] == seen[3] == ("/v1/models?x=1", {"x": "1"})


async def test_path_is_quoted(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(answers(ok(), ok()))
    await get_body(pool, server.url("/models/a b/é%2F"))
    assert head_lines(server.requests[0])[0] == b"GET /models/a%20b/%C3%A9%2F HTTP/1.1"
    await get_body(pool, server.url(""))
    assert head_lines(server.requests[1])[0] == b"GET / HTTP/1.1"


async def test_host_header_for_names_and_default_ports(raw_server: StartServer) -> None:
    server = await raw_server(answers(ok(), ok()))
    pool = ConnectionPool(limit=2)
    try:
        await get_body(pool, f"http://localhost:{server.port}/")
    finally:
        await pool.close()
    assert head_lines(server.requests[0])[1][b"host"] == b"localhost:%d" % server.port
    assert pool._split("http://example.com/", None)[0].host_header == "example.com"
    assert pool._split("http://example.com:80/", None)[0].host_header == "example.com"
    assert pool._split("https://example.com:443/x", None)[0].host_header == "example.com"
    assert pool._split("https://example.com:80/x", None)[0].host_header == "example.com:80"
    assert pool._split("http://[::1]:8080/", None)[0].host_header == "[::1]:8080"
    assert pool._split("http://[::1]/", None)[0].host_header == "[::1]"


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pass@127.0.0.1/",
        "http://user@127.0.0.1/",
        "ftp://127.0.0.1/",
        "file:///etc/passwd",
        "127.0.0.1:8080/path",
        "http:///path",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:port/",
    ],
)
async def test_refused_urls(pool: Client, url: str) -> None:
    with pytest.raises(ValueError) as caught:
        await get(pool, url)
    assert "pass" not in str(caught.value)
    assert in_use(pool) == 0


@pytest.mark.parametrize(
    "headers",
    [{"X-Injected": "a\r\nHost: evil"}, {"Bad Name": "v"}, {"X": "nul\x00"}],
)
async def test_refused_headers(pool: Client, headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        await pool.request("GET", "http://127.0.0.1:1/", headers, None, QUICK)
    assert in_use(pool) == 0


async def test_a_changed_header_mapping_is_not_sent_stale(
    pool: Client, raw_server: StartServer
) -> None:
    """The header block is cached per mapping; a new mapping with new values is new."""
    server = await raw_server(answers(ok(), ok()))
    await pool.request("GET", server.url(), {"Authorization": "Bearer one"}, None, QUICK)
    await asyncio.sleep(0.01)
    response = await pool.request("GET", server.url(), {"Authorization": "Bearer two"}, None, QUICK)
    await response.read()
    assert [head_lines(r)[1][b"authorization"] for r in server.requests] == [
        b"Bearer one",
        b"Bearer two",
    ]


# -- TLS and the SSRF guard ----------------------------------------------------------


async def test_self_signed_certificate_is_refused(
    pool: Client, raw_server: StartServer, tmp_path: Path
) -> None:
    server = await raw_server(answers(ok()), tls=self_signed(tmp_path))
    with pytest.raises(ConnectFailed):
        await get(pool, server.url(scheme="https"))
    assert in_use(pool) == 0 and server.requests == []


async def test_tls_to_a_trusted_server(
    own_pool: ConnectionPool,
    raw_server: StartServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the test certificate trusted, the same server answers over TLS and keeps alive."""
    server = await raw_server(answers(ok(b"secure"), ok(b"again")), tls=self_signed(tmp_path))
    trusted = ssl.create_default_context(cafile=tmp_path / "cert.pem")
    monkeypatch.setattr(own_pool, "_tls", trusted)
    assert await get_body(own_pool, server.url(scheme="https")) == b"secure"
    assert await get_body(own_pool, server.url(scheme="https")) == b"again"
    assert server.connections == 1


async def test_plain_http_to_a_tls_server(
    pool: Client, raw_server: StartServer, tmp_path: Path
) -> None:
    server = await raw_server(answers(ok()), tls=self_signed(tmp_path))
    timeouts = Timeouts(connect=1, first_byte=1, idle=1, total=1)
    with pytest.raises((MalformedResponse, Disconnected, TimeoutError)):
        await get_body(pool, server.url(), timeouts)


@pytest.mark.parametrize("host", ["localhost", "metadata.google.internal"])
async def test_guarded_resolver_refusal_is_connect_failed(
    raw_server: StartServer, host: str, make_client: MakeClient
) -> None:
    server = await raw_server(answers(ok()))
    pool = make_client(pool_size=1, guard=GuardedResolver(allow_private=False))
    try:
        with pytest.raises(ConnectFailed):
            await get(pool, f"http://{host}:{server.port}/")
        assert in_use(pool) == 0 and server.connections == 0
    finally:
        await pool.close()


async def test_guarded_resolver_allowing_private(
    raw_server: StartServer, make_client: MakeClient
) -> None:
    server = await raw_server(answers(ok(b"local")))
    pool = make_client(pool_size=1, guard=GuardedResolver(allow_private=True))
    try:
        assert await get_body(pool, f"http://localhost:{server.port}/") == b"local"
    finally:
        await pool.close()


async def test_unresolvable_host(pool: Client) -> None:
    with pytest.raises(ConnectFailed):
        await get(pool, "http://no-such-host.invalid/")
    assert in_use(pool) == 0


async def test_a_lagging_reader_is_not_an_idle_upstream(
    pool: Client, raw_server: StartServer
) -> None:
    """While reading is paused for a slow consumer, the idle timeout does not run."""
    big = bytes(range(256)) * 12000
    server = await raw_server(answers(ok(big)))
    timeouts = Timeouts(connect=1, first_byte=1, idle=0.15, total=5)
    response = await get(pool, server.url(), timeouts)
    received = bytearray()
    async for piece in response.iter_chunks():
        if not received:
            await asyncio.sleep(0.5)  # the socket is paused well past the idle timeout
        received += piece
    assert received == big


async def test_a_lagging_reader_still_meets_the_total_timeout(
    pool: Client, raw_server: StartServer
) -> None:
    big = bytes(range(256)) * 12000
    server = await raw_server(answers(ok(big)))
    timeouts = Timeouts(connect=1, first_byte=1, idle=0.1, total=0.3)
    response = await get(pool, server.url(), timeouts)

    async def lag() -> None:
        async for _ in response.iter_chunks():
            await asyncio.sleep(0.25)

    assert await timed(lag()) < 1.2
    assert in_use(pool) == 0 and idle(pool) == 0


async def test_cancelled_just_after_a_complete_answer_keeps_the_connection(
    own_pool: ConnectionPool, raw_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled between the answer's arrival and the caller resuming: the finished
    connection is back in the pool and must not be aborted (another request may hold it)."""
    server = await raw_server(answers(ok(b"one"), ok(b"two")))
    task: asyncio.Future[UpstreamResponse] | None = None
    on_idle = own_pool._on_idle

    def cancel_then_idle(origin: object, connection: object) -> None:
        on_idle(origin, connection)  # type: ignore[arg-type]
        assert task is not None
        task.cancel()

    monkeypatch.setattr(own_pool, "_on_idle", cancel_then_idle)
    task = asyncio.ensure_future(get(own_pool, server.url()))
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.setattr(own_pool, "_on_idle", on_idle)
    assert in_use(own_pool) == 0 and idle(own_pool) == 1
    assert await get_body(own_pool, server.url()) == b"two"
    assert server.connections == 1
