"""Keep-alive connections per upstream origin, with DNS, TLS, the SSRF guard and pool limits.

Everything that does not change between requests is worked out once and kept:
the split of each URL, the encoded header block of each provider's header
mapping, the resolved addresses of each host (for ``dns_ttl_s``), and the TLS
context. A request then costs a dictionary lookup or two, one formatted head
and one socket write.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import select
import socket
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import Final
from urllib.parse import quote, urlencode, urlsplit

import aiohappyeyeballs
import idna
from aiohttp.abc import AbstractResolver

from gateway.egress import Proxy, ProxyRules
from gateway.http.connection import DEFAULT_MAX_BODY_BYTES, Connection, Response
from gateway.http.errors import ConnectFailed, Disconnected, MalformedResponse
from gateway.http.wire import (
    FRAMING_HEADERS,
    MAX_HEAD_BYTES,
    head_end,
    header_block,
    parse_head,
    request_head,
)
from gateway.transport import AddressRefused, Timeouts

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
SAFE_IN_PATH: Final = "/%:@!$&'()*+,;=~"
SAFE_IN_QUERY: Final = SAFE_IN_PATH + "?"
CACHE_LIMIT: Final = 1024
"""Entries kept in each per-URL and per-header-mapping cache before it starts over."""
SMALL_BODY_BYTES: Final = 64 * 1024
"""Bodies up to this size go out in the same write as the head."""
REPLAYABLE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Sent again after a reused connection broke unanswered (as Go's net/http does)."""
ERRNO_REASONS: Final = {
    errno.ECONNREFUSED: "the connection was refused",
    errno.ECONNRESET: "the connection was reset",
    errno.EHOSTUNREACH: "the host is unreachable",
    errno.ENETUNREACH: "the network is unreachable",
    errno.ETIMEDOUT: "the connection timed out",
}

Guard = Callable[[str], None]
"""Raises OSError (the SSRF guard's refusal) for a host the pool must not connect to."""
AddrInfo = tuple[int, int, int, str, tuple[str, int] | tuple[str, int, int, int]]


class Origin:
    """One scheme, host, port and proxy: its idle connections, counters and addresses."""

    __slots__ = (
        "active",
        "addresses",
        "connect_request",
        "host",
        "host_header",
        "idle",
        "literal",
        "port",
        "proxy",
        "proxy_block",
        "resolved_until",
        "target_prefix",
        "tls",
    )

    def __init__(self, scheme: str, host: str, port: int, proxy: Proxy | None) -> None:
        self.host = host
        self.port = port
        self.tls = scheme == "https"
        self.proxy = proxy
        shown = f"[{host}]" if ":" in host else host
        self.host_header = shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"
        self.idle: list[Connection] = []
        self.active = 0
        self.addresses: list[AddrInfo] = []
        self.resolved_until = 0.0
        self.literal = is_ip_literal(host)
        if self.literal:
            self.addresses = [
                _addr_info(host, port, socket.AF_INET6 if ":" in host else socket.AF_INET)
            ]
            self.resolved_until = float("inf")
        auth = b""
        if proxy is not None and proxy.authorization:
            auth = b"Proxy-Authorization: %s\r\n" % proxy.authorization.encode()
        # Plain http through a proxy: absolute-form targets (RFC 9112 3.2.2); https: a tunnel.
        self.target_prefix = f"http://{self.host_header}" if proxy and not self.tls else ""
        self.proxy_block = auth if proxy and not self.tls else b""
        self.connect_request = b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n" % (
            shown.encode(),
            port,
            shown.encode(),
            port,
            auth,
        )


class ConnectionPool:
    """HTTP/1.1 requests over pooled keep-alive connections.

    ``limit`` bounds the connections in use at once (``limit_per_host`` per
    origin, 0 for none); further requests wait for one to come free, in order,
    and the wait counts against the connect timeout. Redirects are not
    followed: an upstream's 3xx is its answer. ``guard`` checks the hosts that
    the resolver does not see (IP literals, and names a proxy resolves).
    """

    def __init__(
        self,
        *,
        limit: int,
        limit_per_host: int = 0,
        resolver: AbstractResolver | None = None,
        guard: Guard | None = None,
        proxies: ProxyRules | None = None,
        keepalive_s: float = 4.0,
        dns_ttl_s: float = 300.0,
        happy_eyeballs_delay_s: float = 0.25,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        user_agent: str = "llm-gateway",
    ) -> None:
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._resolver = resolver
        self._guard = guard
        self._proxies = proxies if proxies is not None else ProxyRules()
        self._keepalive_s = keepalive_s
        self._dns_ttl_s = dns_ttl_s
        self._happy_eyeballs_delay_s = happy_eyeballs_delay_s
        self._max_body = max_body_bytes
        self._defaults = {"User-Agent": user_agent, "Accept-Encoding": "identity"}
        self._active = 0
        self._waiters: deque[tuple[Origin, asyncio.Future[None]]] = deque()
        self._origins: dict[tuple[str, str, int, str | None], Origin] = {}
        self._urls: dict[tuple[str, str | None], tuple[Origin, str]] = {}
        self._blocks: dict[tuple[int, bool], tuple[Mapping[str, str], bytes]] = {}
        self._connections: set[Connection] = set()
        self._tls: ssl.SSLContext | None = None
        self._poll = select.poll()
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
        params: Mapping[str, str] | None = None,
        proxy: str | None = None,
    ) -> Response:
        """Send one request; return once the response head arrived.

        Raises ConnectFailed, Disconnected, MalformedResponse or ReadTimeout;
        ValueError for a URL or header the client refuses to send. ``proxy``
        overrides the proxy rules (``""``: none). A request that a reused
        connection lost unanswered is sent once more on a fresh connection when
        it was not written, or when its method is idempotent.
        """
        origin, target = self._split(url, proxy)
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        block = self._header_block(headers, body is not None)
        if origin.proxy_block:
            block += origin.proxy_block
        head = request_head(
            method, target, origin.host_header, block, -1 if body is None else len(body)
        )
        if body and len(body) <= SMALL_BODY_BYTES:
            head, body = head + body, None
        # The first exchange is written out here, not in a helper coroutine: one frame
        # less per request on the hot path.
        connection = self._reuse(origin) or await self._acquire(origin, timeouts.connect)
        no_body = method == "HEAD"
        waiter = connection.start(head, body, timeouts, no_body=no_body)
        try:
            return await waiter
        except asyncio.CancelledError:
            _abandon(connection, waiter)
            raise
        except Disconnected as exc:
            if not (
                connection.reused
                and exc.unanswered
                and (exc.unsent or _replayable(method, headers))
            ):
                raise
        connection = await self._acquire(origin, timeouts.connect, fresh=True)
        waiter = connection.start(head, body, timeouts, no_body=no_body)
        try:
            return await waiter
        except asyncio.CancelledError:
            _abandon(connection, waiter)
            raise

    async def close(self) -> None:
        """Close every connection; requests in flight fail with Disconnected."""
        self._closed = True
        while self._waiters:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectFailed("the upstream client is closed"))
        for connection in list(self._connections):
            connection.abort()
        if self._resolver is not None:
            await self._resolver.close()

    def _split(self, url: str, override: str | None) -> tuple[Origin, str]:
        cached = self._urls.get((url, override))
        if cached is not None:
            return cached
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        if scheme not in DEFAULT_PORTS or not host or parts.username or parts.password:
            raise ValueError("the upstream URL must be http(s) with a host and no credentials")
        if not host.isascii():
            try:
                host = idna.encode(host, uts46=True).decode("ascii")
            except idna.IDNAError:
                raise ValueError(
                    "the upstream host is not a valid internationalized name"
                ) from None
        port = parts.port or DEFAULT_PORTS[scheme]
        origin = self._origins.get((scheme, host, port, override))
        if origin is None:
            chosen = self._proxies.choose(scheme, host, override)
            origin = Origin(scheme, host, port, chosen)
            self._origins[(scheme, host, port, override)] = origin
        target = origin.target_prefix + quote(parts.path or "/", safe=SAFE_IN_PATH)
        if parts.query:
            target += "?" + quote(parts.query, safe=SAFE_IN_QUERY)
        if len(self._urls) >= CACHE_LIMIT:
            self._urls.clear()
        self._urls[(url, override)] = (origin, target)
        return origin, target

    def _header_block(self, headers: Mapping[str, str], has_body: bool) -> bytes:
        """The encoded header lines, cached per header mapping (adapters reuse theirs).

        The client owns the framing headers: a caller's Host, Content-Length,
        Transfer-Encoding or Connection is dropped, never sent twice.
        """
        key = (id(headers), has_body)
        cached = self._blocks.get(key)
        if cached is not None and cached[0] is headers:
            return cached[1]
        own = {
            name: value for name, value in headers.items() if name.lower() not in FRAMING_HEADERS
        }
        present = {name.lower() for name in own}
        extra = {
            name: value for name, value in self._defaults.items() if name.lower() not in present
        }
        if has_body and "content-type" not in present:
            extra["Content-Type"] = "application/json"
        block = header_block({**own, **extra})
        if len(self._blocks) >= CACHE_LIMIT:
            self._blocks.clear()
        self._blocks[key] = (headers, block)  # holding ``headers`` keeps its id unique
        return block

    async def _acquire(
        self, origin: Origin, connect_s: float, *, fresh: bool = False
    ) -> Connection:
        """Within ``connect_s`` (waiting for a slot included): a live idle connection to
        ``origin`` (unless ``fresh``), else a new one."""
        waiting = True
        try:
            async with asyncio.timeout(connect_s):
                await self._lease_slot(origin)
                waiting = False
                try:
                    if not fresh:
                        connection = self._idle_connection(origin)
                        if connection is not None:
                            return connection
                    return await self._connect(origin)
                except BaseException:
                    self._unlease(origin)
                    raise
        except TimeoutError:
            if waiting:
                reason = (
                    f"no connection came free within {connect_s:g}s"
                    " (upstream.pool_size, upstream.pool_size_per_host)"
                )
            else:
                reason = f"the connection was not established within {connect_s:g}s"
            raise ConnectFailed(reason, timed_out=True) from None

    def _reuse(self, origin: Origin) -> Connection | None:
        """The common case, with no deadline to arm: a free slot and a live idle connection."""
        if self._closed or not origin.idle or not self._can_lease(origin):
            return None
        self._lease(origin)
        connection = self._idle_connection(origin)
        if connection is None:
            self._unlease(origin)
        return connection

    def _can_lease(self, origin: Origin) -> bool:
        return self._active < self._limit and (
            not self._limit_per_host or origin.active < self._limit_per_host
        )

    async def _lease_slot(self, origin: Origin) -> None:
        """Take a slot under the limits, or wait in line for one to be handed over."""
        if self._closed:
            raise ConnectFailed("the upstream client is closed")
        if self._can_lease(origin):
            self._lease(origin)
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (origin, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._unlease(origin)  # handed a slot just as it was cancelled: pass it on
            elif entry in self._waiters:
                self._waiters.remove(entry)
            raise

    def _idle_connection(self, origin: Origin) -> Connection | None:
        idle = origin.idle
        oldest_allowed = asyncio.get_running_loop().time() - self._keepalive_s
        while idle:
            connection = idle.pop()
            if (
                connection.usable
                and connection.idle_since > oldest_allowed
                and not self._closed_while_idle(connection)
            ):
                connection.leased = True
                return connection
            connection.close()
        return None

    def _closed_while_idle(self, connection: Connection) -> bool:
        """An idle socket with something to read has been closed (or spoken to out of
        turn) by the server, though the loop has not told the protocol yet."""
        fd = connection.fileno
        if fd < 0:
            return False
        poll = self._poll
        poll.register(fd, select.POLLIN)
        try:
            return bool(poll.poll(0))
        finally:
            poll.unregister(fd)

    def _lease(self, origin: Origin) -> None:
        self._active += 1
        origin.active += 1

    def _unlease(self, origin: Origin) -> None:
        """Give a slot back: to the first waiter in line that the limits now let through."""
        self._active -= 1
        origin.active -= 1
        waiters = self._waiters
        if not waiters:
            return
        for entry in waiters:
            waiting_origin, waiter = entry
            if not waiter.done() and self._can_lease(waiting_origin):
                waiters.remove(entry)
                self._lease(waiting_origin)
                waiter.set_result(None)
                return

    def _on_idle(self, origin: Origin, connection: Connection) -> None:
        connection.leased = False
        self._unlease(origin)
        if self._closed:
            connection.close()
            return
        idle = origin.idle
        idle.append(connection)
        if idle[0].idle_since < connection.idle_since - self._keepalive_s:
            idle[0].close()  # the stalest one, so that a quieter time lets the pool shrink

    def _on_lost(self, origin: Origin, connection: Connection) -> None:
        self._connections.discard(connection)
        if connection.leased:
            connection.leased = False
            self._unlease(origin)
        elif connection in origin.idle:
            origin.idle.remove(connection)

    async def _connect(self, origin: Origin) -> Connection:
        """A new connection: happy eyeballs over the addresses, through the proxy if any."""
        loop = asyncio.get_running_loop()
        on_idle = partial(self._on_idle, origin)
        on_lost = partial(self._on_lost, origin)
        max_body = self._max_body

        def factory() -> Connection:
            return Connection(loop, on_idle, on_lost, max_body)

        tls = self._tls_context() if origin.tls else None
        proxy = origin.proxy
        sock: socket.socket | None = None
        try:
            if self._guard is not None and (origin.literal or proxy is not None):
                self._guard(origin.host)
            if proxy is None:
                sock = await self._open(await self._addresses(origin))
                _, connection = await loop.create_connection(
                    factory, sock=sock, ssl=tls, server_hostname=origin.host if tls else None
                )
            else:
                sock = await self._open(await self._proxy_addresses(proxy))
                if tls is not None:
                    connection = await self._tunnel(origin, sock, tls, factory)
                else:
                    _, connection = await loop.create_connection(factory, sock=sock)
        except ConnectFailed:
            if sock is not None:
                sock.close()
            raise
        except OSError as exc:
            if sock is not None:
                sock.close()
            raise ConnectFailed(_connect_reason(exc, proxy)) from None
        connection.leased = True
        self._connections.add(connection)
        return connection

    async def _open(self, infos: list[AddrInfo]) -> socket.socket:
        """A connected socket: attempts staggered over the addresses (RFC 8305)."""
        return await aiohappyeyeballs.start_connection(
            infos, happy_eyeballs_delay=self._happy_eyeballs_delay_s, interleave=1
        )

    async def _tunnel(
        self,
        origin: Origin,
        sock: socket.socket,
        tls: ssl.SSLContext,
        factory: Callable[[], Connection],
    ) -> Connection:
        """CONNECT through the proxy, then TLS to the upstream inside the tunnel."""
        loop = asyncio.get_running_loop()
        transport, tunnel = await loop.create_connection(lambda: _Tunnel(loop), sock=sock)
        try:
            await tunnel.establish(origin.connect_request, origin.proxy)
            connection = factory()
            tls_transport = await loop.start_tls(
                transport, connection, tls, server_hostname=origin.host
            )
        except BaseException:
            transport.abort()
            raise
        assert tls_transport is not None
        connection.connection_made(tls_transport)
        return connection

    async def _addresses(self, origin: Origin) -> list[AddrInfo]:
        """The origin's addresses, resolved (and checked by the resolver) at most every TTL."""
        loop = asyncio.get_running_loop()
        if origin.resolved_until > loop.time():
            return origin.addresses
        try:
            if self._resolver is not None:
                results = await self._resolver.resolve(origin.host, origin.port, socket.AF_UNSPEC)
                addresses = [_addr_info(r["host"], r["port"], r["family"]) for r in results]
            else:
                addresses = await _getaddrinfo(origin.host, origin.port)
        except OSError as exc:
            raise ConnectFailed(_resolve_reason(exc)) from None
        if not addresses:
            raise ConnectFailed("the upstream host name resolves to no address")
        origin.addresses = addresses
        origin.resolved_until = loop.time() + self._dns_ttl_s
        return addresses

    async def _proxy_addresses(self, proxy: Proxy) -> list[AddrInfo]:
        """The proxy's addresses: resolved as they are, since the SSRF guard is not for it."""
        if is_ip_literal(proxy.host):
            family = socket.AF_INET6 if ":" in proxy.host else socket.AF_INET
            return [_addr_info(proxy.host, proxy.port, family)]
        try:
            return await _getaddrinfo(proxy.host, proxy.port)
        except OSError:
            raise ConnectFailed(
                f"the proxy's host name {proxy.host!r} could not be resolved"
            ) from None

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


class _Tunnel(asyncio.Protocol):
    """The proxy side of a CONNECT: send it, read the proxy's answer head, nothing more."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._answer: asyncio.Future[int] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self._answer.done():
            return
        self._buffer += data
        end, body_at = head_end(self._buffer)
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                self._answer.set_exception(ConnectFailed("the proxy's answer head is too large"))
            return
        try:
            status = parse_head(self._buffer[:end], no_body=True).status
        except MalformedResponse:
            self._answer.set_exception(ConnectFailed("the proxy's answer is not HTTP/1.1"))
            return
        if 200 <= status < 300 and body_at != len(self._buffer):
            self._answer.set_exception(ConnectFailed("the proxy sent bytes after its answer"))
            return
        self._answer.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._answer.done():
            self._answer.set_exception(
                ConnectFailed("the proxy closed the connection before answering CONNECT")
            )

    async def establish(self, request: bytes, proxy: Proxy | None) -> None:
        assert self.transport is not None and proxy is not None
        self.transport.write(request)
        status = await self._answer
        if not 200 <= status < 300:
            hint = " (the proxy wants credentials in its URL)" if status == 407 else ""
            raise ConnectFailed(f"the proxy {proxy.shown} refused the tunnel ({status}){hint}")


def _abandon(connection: Connection, waiter: asyncio.Future[Response]) -> None:
    """The request was cancelled: drop the connection unless its answer is whole."""
    if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
        # The answer came in first: drop the connection only if its body is not
        # complete, since a complete one is back in the pool and may be in use.
        waiter.result().close()
    else:
        connection.abort()


def _replayable(method: str, headers: Mapping[str, str]) -> bool:
    if method in REPLAYABLE_METHODS:
        return True
    return any(name.lower() in ("idempotency-key", "x-idempotency-key") for name in headers)


def _addr_info(host: str, port: int, family: int) -> AddrInfo:
    if family == socket.AF_INET6:
        return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))


async def _getaddrinfo(host: str, port: int) -> list[AddrInfo]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [_addr_info(str(info[4][0]), port, info[0]) for info in infos]


def _resolve_reason(exc: OSError) -> str:
    if isinstance(exc, AddressRefused):
        return str(exc)  # the SSRF guard's refusal: it names the policy, not the address
    detail = exc.strerror or (str(exc.args[-1]) if exc.args else type(exc).__name__)
    return f"the upstream host name could not be resolved ({detail})"


def _connect_reason(exc: OSError, proxy: Proxy | None) -> str:
    """Why a connection failed, in words for the client (no address)."""
    via = f" (proxy {proxy.shown})" if proxy is not None else ""
    if isinstance(exc, AddressRefused):
        return str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, socket.gaierror):
        return "the host name could not be resolved"
    known = ERRNO_REASONS.get(exc.errno or 0)
    if known is not None:
        return known + via
    name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return f"the connection failed ({name}){via}"


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` is an IP address (never resolved) rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
