"""What a client behind real networks needs, over real sockets, against both clients.

Proxies (CONNECT, absolute-form, credentials, NO_PROXY, the SSRF guard with a
proxy), happy eyeballs past an address that drops SYNs, connections a server
closed while idle, retries, the bounded and ordered pool wait, failure reasons,
the body cap, framing headers, IDN hosts, and answers cut or oddly framed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from benchmarks.aiohttp_client import AiohttpClient
from gateway.http import (
    BodyTooLarge,
    ConnectFailed,
    ConnectionPool,
    Disconnected,
    MalformedResponse,
)
from gateway.security.ssrf import GuardedResolver
from gateway.transport import Timeouts
from tests.fakes.http_proxy import ForwardProxy
from tests.http.conftest import Client, MakeClient, in_use
from tests.http.servers import (
    QUICK,
    Raw,
    StartServer,
    answers,
    get,
    get_body,
    ok,
    reset_after,
    self_signed,
)

# -- helpers -------------------------------------------------------------------------


class FakeDNS(AbstractResolver):
    """Answers each name with fixed (address, port) pairs, in order."""

    def __init__(self, table: dict[str, list[tuple[str, int]]]) -> None:
        self.table = table

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.table:
            raise OSError(None, "Name or service not known")
        return [
            {
                "hostname": host,
                "host": address,
                "port": answer_port or port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address, answer_port in self.table[host]
        ]

    async def close(self) -> None: ...


def trust(client: Client, context: ssl.SSLContext) -> None:
    """Make ``client`` trust the test certificate (in place of the system's roots)."""
    if isinstance(client, ConnectionPool):
        client._tls = context
    else:
        assert isinstance(client, AiohttpClient)
        client._session.connector._ssl = context  # type: ignore[union-attr]


@contextlib.contextmanager
def blackhole() -> Iterator[int]:
    """A port on 127.0.0.1 whose full backlog drops SYNs: a connect there hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# -- proxies ---------------------------------------------------------------------------


async def test_https_through_a_connect_tunnel_with_credentials(
    make_client: MakeClient, raw_server: StartServer, tmp_path: Path
) -> None:
    server = await raw_server(answers(ok(b"secure"), ok(b"again")), tls=self_signed(tmp_path))
    async with ForwardProxy(credentials="user:p@ss") as proxy:
        client = make_client(https_proxy=proxy.url("user:p%40ss"))
        trust(client, ssl.create_default_context(cafile=tmp_path / "cert.pem"))
        assert await get_body(client, server.url(scheme="https")) == b"secure"
        assert await get_body(client, server.url(scheme="https")) == b"again"
    assert [(method, target) for method, target, _ in proxy.seen] == [
        ("CONNECT", f"127.0.0.1:{server.port}")  # one tunnel, kept alive
    ]
    assert proxy.seen[0][2] == "Basic dXNlcjpwQHNz"  # user:p@ss
    assert server.connections == 1


async def test_http_through_a_proxy_in_absolute_form(
    make_client: MakeClient, raw_server: StartServer
) -> None:
    server = await raw_server(answers(ok(b"one"), ok(b"two")))
    async with ForwardProxy() as proxy:
        client = make_client(http_proxy=proxy.url(), https_proxy="http://127.0.0.1:9")
        assert await get_body(client, server.url("/v1/models?x=1")) == b"one"
        assert await get_body(client, server.url("/v1/models?x=1")) == b"two"
    target = f"http://127.0.0.1:{server.port}/v1/models?x=1"
    assert proxy.seen == [("GET", target, None), ("GET", target, None)]
    assert server.requests[0].startswith(b"GET /v1/models?x=1 HTTP/1.1\r\n")


async def test_wrong_proxy_credentials_are_a_clear_connect_failure(
    make_client: MakeClient, raw_server: StartServer, tmp_path: Path
) -> None:
    server = await raw_server(answers(ok()), tls=self_signed(tmp_path))
    async with ForwardProxy(credentials="user:right") as proxy:
        client = make_client(https_proxy=proxy.url("user:wrong"))
        with pytest.raises(ConnectFailed, match="407"):
            await get(client, server.url(scheme="https"))
    assert server.connections == 0 and in_use(client) == 0


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "127.0.0.0/8", "*", "other.test, 127.0.0.1"])
async def test_no_proxy_hosts_are_reached_directly(
    make_client: MakeClient, raw_server: StartServer, no_proxy: str
) -> None:
    server = await raw_server(answers(ok(b"direct")))
    async with ForwardProxy() as proxy:
        client = make_client(http_proxy=proxy.url(), no_proxy=no_proxy)
        assert await get_body(client, server.url()) == b"direct"
    assert proxy.seen == []


async def test_a_providers_own_proxy_overrides_the_settings(
    make_client: MakeClient, raw_server: StartServer
) -> None:
    server = await raw_server(answers(ok(b"a")))
    async with ForwardProxy() as configured, ForwardProxy() as own:
        client = make_client(http_proxy=configured.url())
        response = await client.request("GET", server.url(), {}, None, QUICK, None, own.url())
        assert await response.read() == b"a"
        response = await client.request("GET", server.url(), {}, None, QUICK, None, "")
        assert await response.read() == b"a"  # "": no proxy at all
    assert len(own.seen) == 1 and configured.seen == [] and server.connections == 2


async def test_the_ssrf_guard_checks_the_upstream_not_the_proxy(
    make_client: MakeClient, raw_server: StartServer
) -> None:
    """The proxy (on loopback) is used although private addresses are refused; the
    upstream's name reaches the proxy unresolved; a refused literal never leaves."""
    server = await raw_server(answers(ok(b"via proxy")))
    async with ForwardProxy(hosts={"upstream.test": "127.0.0.1"}) as proxy:
        client = make_client(
            http_proxy=proxy.url(), guard=GuardedResolver(allow_private=False, inner=FakeDNS({}))
        )
        assert await get_body(client, f"http://upstream.test:{server.port}/") == b"via proxy"
        for refused in ("http://169.254.169.254/", "http://[2002:7f00:1::]/", "http://localhost/"):
            with pytest.raises(ConnectFailed, match="refused by policy"):
                await get(client, refused)
    assert [target for _, target, _ in proxy.seen] == [f"http://upstream.test:{server.port}/"]


# -- connecting --------------------------------------------------------------------------


async def test_happy_eyeballs_past_an_address_that_drops_syns(
    make_client: MakeClient, raw_server: StartServer
) -> None:
    server = await raw_server(answers(ok(b"second address")))
    with blackhole() as dead_port:
        dns = FakeDNS({"two.test": [("127.0.0.1", dead_port), ("127.0.0.1", server.port)]})
        client = make_client(guard=GuardedResolver(allow_private=True, inner=dns))
        timeouts = Timeouts(connect=5, first_byte=5, idle=5, total=5)
        started = time.monotonic()
        assert await get_body(client, f"http://two.test:{server.port}/", timeouts) == (
            b"second address"
        )
        assert time.monotonic() - started < 1.5  # not the 5 s connect timeout


async def test_pool_wait_counts_against_the_connect_timeout(
    make_client: MakeClient, raw_server: StartServer
) -> None:
    async def slow(raw: Raw) -> None:
        while await raw.request():
            await asyncio.sleep(0.35)
            await raw.send(ok())

    server = await raw_server(slow)
    client = make_client(pool_size=1)
    busy = asyncio.ensure_future(get_body(client, server.url()))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(ConnectFailed) as caught:
        await get(client, server.url(), Timeouts(connect=0.15, first_byte=5, idle=5, total=5))
    assert time.monotonic() - started < 0.3
    assert caught.value.timed_out
    assert await busy == b"ok"


async def test_pool_waiters_are_served_in_order(
    make_client: MakeClient, raw_server: StartServer
) -> None:
    async def quick(raw: Raw) -> None:
        while await raw.request():
            await asyncio.sleep(0.02)
            await raw.send(ok())

    server = await raw_server(quick)
    client = make_client(pool_size=1)
    finished: list[int] = []

    async def fetch(n: int) -> None:
        await get_body(client, server.url())
        finished.append(n)

    tasks = []
    for n in range(6):
        tasks.append(asyncio.ensure_future(fetch(n)))
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)
    assert finished == list(range(6))


@pytest.mark.parametrize(
    ("url", "allow_private", "reason"),
    [
        ("http://no-such-host.invalid/", True, "could not be resolved"),
        ("http://127.0.0.1:{closed}/", True, "refused"),
        ("https://127.0.0.1:{tls}/", True, "certificate verification failed"),
        ("http://metadata.google.internal/", True, "refused by policy"),
        ("http://private.test:{tls}/", False, "security.allow_private_upstreams"),
    ],
)
async def test_each_connect_failure_keeps_its_reason(
    make_client: MakeClient,
    raw_server: StartServer,
    tmp_path: Path,
    url: str,
    allow_private: bool,
    reason: str,
) -> None:
    tls_server = await raw_server(answers(ok()), tls=self_signed(tmp_path))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    dns = FakeDNS({"private.test": [("10.0.0.7", 0)]})
    client = make_client(guard=GuardedResolver(allow_private=allow_private, inner=dns))
    target = url.format(closed=closed, tls=tls_server.port)
    with pytest.raises(ConnectFailed) as caught:
        await get(client, target)
    assert reason in caught.value.reason
    assert "10.0.0.7" not in caught.value.reason and not caught.value.timed_out
    assert tls_server.requests == []


async def test_connect_timeout_is_a_timed_out_reason(make_client: MakeClient) -> None:
    with blackhole() as dead_port:
        client = make_client()
        timeouts = Timeouts(connect=0.2, first_byte=5, idle=5, total=5)
        with pytest.raises(ConnectFailed) as caught:
            await get(client, f"http://127.0.0.1:{dead_port}/", timeouts)
    assert caught.value.timed_out and "0.2s" in caught.value.reason


# -- stale connections and retries -------------------------------------------------------


class ThreadedServer:
    """Answers in its own thread and closes a connection idle for ``idle_close_s`` (so it
    can close one while the client's loop is busy, as a real server does)."""

    def __init__(self, idle_close_s: float) -> None:
        self.idle_close_s = idle_close_s
        self.connections = 0
        self.requests = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(self.idle_close_s)
        with conn:
            buffer = b""
            while True:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    return  # idle too long: close, as servers' keep-alive timeouts do
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, _, rest = buffer.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    if len(rest) < length:
                        break
                    buffer = rest[length:]
                    self.requests += 1
                    conn.sendall(ok(b"fine"))


@pytest.mark.aiohttp_differs("the POST goes out on the dead connection and fails")
async def test_a_connection_the_server_closed_while_idle_is_not_used(
    make_client: MakeClient,
) -> None:
    """The server closes idle keep-alives after 0.1 s; the loop is busy past that (so no
    callback has told the client yet): the POST still goes out on a fresh connection."""
    server = ThreadedServer(idle_close_s=0.1)
    client = make_client()
    try:
        url = f"http://127.0.0.1:{server.port}/v1/chat/completions"
        for _ in range(2):
            response = await client.request("POST", url, {}, b"{}", QUICK)
            assert await response.read() == b"fine"
            time.sleep(0.2)  # noqa: ASYNC251 - blocks the loop: the close arrives unseen
        assert server.requests == 2 and server.connections == 2
    finally:
        server.close()


async def test_a_server_with_a_short_keep_alive_fails_no_request(make_client: MakeClient) -> None:
    """Requests spaced before and after the server's idle timeout (0.15 s here, to keep the
    suite quick; 1 s or 5 s on real servers, under or over our 4 s default) all succeed:
    after it, the connection the server closed is noticed and not used.

    Not exactly at it: a POST written as the server closes may have been processed, so no
    client may send it again (a GET is, test_retry_on_a_fresh_connection_follows_gos_rules),
    and which of the two comes first is up to the schedulers (this failed once in CI).
    """
    server = ThreadedServer(idle_close_s=0.15)
    client = make_client()
    try:
        url = f"http://127.0.0.1:{server.port}/"
        for pause in (0.05, 0.1, 0.25, 0.3, 0.0):
            assert await (await client.request("POST", url, {}, b"{}", QUICK)).read() == b"fine"
            await asyncio.sleep(pause)
        assert server.requests == 5
    finally:
        server.close()


async def unanswered_second(raw: Raw) -> None:
    """Answers a connection's first request; closes without a word on its second."""
    if await raw.request():
        await raw.send(ok(b"first"))
    if await raw.request():
        raw.writer.close()
        return
    await raw.wait_disconnect()


@pytest.mark.parametrize(
    ("method", "headers", "retried"),
    [
        ("GET", {}, True),
        ("POST", {}, False),
        pytest.param(
            "POST",
            {"Idempotency-Key": "k1"},
            True,
            marks=pytest.mark.aiohttp_differs("it does not read Idempotency-Key"),
        ),
    ],
)
async def test_retry_on_a_fresh_connection_follows_gos_rules(
    pool: Client, raw_server: StartServer, method: str, headers: dict[str, str], retried: bool
) -> None:
    """A reused connection lost before any answer: sent again when idempotent, not a POST."""
    server = await raw_server(unanswered_second)
    body = None if method == "GET" else b"{}"
    assert await (await pool.request(method, server.url(), headers, body, QUICK)).read() == (
        b"first"
    )
    if retried:
        response = await pool.request(method, server.url(), headers, body, QUICK)
        assert await response.read() == b"first"
        assert server.connections == 2
    else:
        with pytest.raises(Disconnected):
            await pool.request(method, server.url(), headers, body, QUICK)


# -- what is sent and read ---------------------------------------------------------------


async def test_the_client_owns_the_framing_headers(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(answers(ok()))
    headers = {
        "Host": "evil.example",
        "Content-Length": "999",
        "Transfer-Encoding": "chunked",
        "Connection": "close",
        "X-Kept": "yes",
    }
    await (await pool.request("POST", server.url(), headers, b"12345", QUICK)).read()
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = [line.lower() for line in head.split(b"\r\n")[1:]]
    assert [line for line in lines if line.startswith(b"host:")] == [
        b"host: 127.0.0.1:%d" % server.port
    ]
    assert [line for line in lines if line.startswith(b"content-length:")] == [b"content-length: 5"]
    assert not [line for line in lines if line.startswith((b"transfer-encoding", b"connection"))]
    assert b"x-kept: yes" in lines and body == b"12345"


async def test_idn_hosts_are_sent_as_idna(make_client: MakeClient, raw_server: StartServer) -> None:
    server = await raw_server(answers(ok()))
    dns = FakeDNS({"xn--bcher-kva.example": [("127.0.0.1", server.port)]})
    client = make_client(guard=GuardedResolver(allow_private=True, inner=dns))
    await get_body(client, f"http://Bücher.example:{server.port}/")
    assert b"\r\nHost: xn--bcher-kva.example:%d\r\n" % server.port in server.requests[0]


@pytest.mark.parametrize("chunked", [False, True])
async def test_read_is_capped_and_streams_are_not(
    make_client: MakeClient, raw_server: StartServer, chunked: bool
) -> None:
    big = b"x" * 5000
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
        % (len(big), big)
        if chunked
        else ok(big)
    )
    server = await raw_server(answers(answer, answer, ok(b"y" * 1024)))
    client = make_client(max_body_bytes=1024)
    with pytest.raises(BodyTooLarge, match=r"upstream.max_body_bytes \(1024 bytes\)"):
        await get_body(client, server.url())
    response = await get(client, server.url())
    assert b"".join([piece async for piece in response.iter_chunks()]) == big
    assert await get_body(client, server.url()) == b"y" * 1024  # at the cap is fine


@pytest.mark.aiohttp_differs("it returns the cut body as if it were complete")
async def test_a_close_delimited_body_cut_by_a_reset_is_a_failure(
    pool: Client, raw_server: StartServer
) -> None:
    server = await raw_server(
        reset_after(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one")
    )
    response = await get(pool, server.url())
    with pytest.raises(Disconnected):
        await response.read()


async def test_bare_lf_heads_are_read(pool: Client, raw_server: StartServer) -> None:
    server = await raw_server(answers(b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nhi"))
    started = time.monotonic()
    response = await get(pool, server.url())
    assert (response.status, response.headers["X-A"], await response.read()) == (200, "b", b"hi")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("coding", ["br", "zstd"])
async def test_unoffered_encodings_are_refused_by_name(
    own_pool: ConnectionPool, raw_server: StartServer, coding: str
) -> None:
    server = await raw_server(answers(ok(b"x", b"Content-Encoding: " + coding.encode())))
    with pytest.raises(MalformedResponse, match=f"Content-Encoding '{coding}'"):
        await get(own_pool, server.url())


async def test_a_huge_head_is_refused_even_when_complete(
    own_pool: ConnectionPool, raw_server: StartServer
) -> None:
    huge = b"HTTP/1.1 200 OK\r\nX: " + b"x" * 70000 + b"\r\nContent-Length: 0\r\n\r\n"
    server = await raw_server(answers(huge))
    with pytest.raises(MalformedResponse, match="too large"):
        await get(own_pool, server.url())
