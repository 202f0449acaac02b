"""Keep-alive connections per upstream origin, with DNS, TLS, the SSRF guard and pool limits.

Everything that does not change between requests is worked out once and kept:
the split of each URL, the encoded header block of each provider's header
mapping, the resolved addresses of each host (for ``dns_ttl_s``), and the TLS
context. A request then costs a dictionary lookup or two, one formatted head
and one socket write.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Mapping
from functools import partial
from typing import Final
from urllib.parse import quote, urlencode, urlsplit

from aiohttp.abc import AbstractResolver

from gateway.http.connection import Connection, Response, Timeouts
from gateway.http.errors import ConnectFailed
from gateway.http.wire import header_block, request_head

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
SAFE_IN_PATH: Final = "/%:@!$&'()*+,;=~"
SAFE_IN_QUERY: Final = SAFE_IN_PATH + "?"
CACHE_LIMIT: Final = 1024
"""Entries kept in each per-URL and per-header-mapping cache before it starts over."""
SMALL_BODY_BYTES: Final = 64 * 1024
"""Bodies up to this size go out in the same write as the head."""


class Origin:
    """One scheme, host and port: its idle connections, counters and resolved addresses."""

    __slots__ = (
        "active",
        "addresses",
        "host",
        "host_header",
        "idle",
        "port",
        "resolved_until",
        "tls",
    )

    def __init__(self, scheme: str, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.tls = scheme == "https"
        shown = f"[{host}]" if ":" in host else host
        self.host_header = shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"
        self.idle: list[Connection] = []
        self.active = 0
        self.addresses: list[tuple[str, int, int]] = []
        self.resolved_until = 0.0
        if _is_ip_literal(host):
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.addresses = [(host, port, family)]
            self.resolved_until = float("inf")


class ConnectionPool:
    """HTTP/1.1 requests over pooled keep-alive connections.

    ``limit`` bounds the connections in use at once (``limit_per_host`` per
    origin, 0 for none); further requests wait for one to come free. Redirects
    are not followed: an upstream's 3xx is its answer.
    """

    def __init__(
        self,
        *,
        limit: int,
        limit_per_host: int = 0,
        resolver: AbstractResolver | None = None,
        keepalive_s: float = 15.0,
        dns_ttl_s: float = 300.0,
        user_agent: str = "llm-gateway",
    ) -> None:
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._resolver = resolver
        self._keepalive_s = keepalive_s
        self._dns_ttl_s = dns_ttl_s
        self._defaults = {"User-Agent": user_agent, "Accept-Encoding": "identity"}
        self._active = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._origins: dict[tuple[str, str, int], Origin] = {}
        self._urls: dict[str, tuple[Origin, str]] = {}
        self._blocks: dict[tuple[int, bool], tuple[Mapping[str, str], bytes]] = {}
        self._connections: set[Connection] = set()
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
        params: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request; return once the response head arrived.

        Raises ConnectFailed, Disconnected, MalformedResponse or TimeoutError;
        ValueError for a URL or header the client refuses to send.
        """
        origin, target = self._split(url)
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        head = request_head(
            method,
            target,
            origin.host_header,
            self._header_block(headers, body is not None),
            -1 if body is None else len(body),
        )
        connection = await self._acquire(origin, timeouts.connect)
        if body and len(body) <= SMALL_BODY_BYTES:
            head, body = head + body, None
        waiter = connection.start(head, body, timeouts, no_body=method == "HEAD")
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # The answer came in first: drop the connection only if its body is not
                # complete, since a complete one is back in the pool and may be in use.
                waiter.result().close()
            else:
                connection.abort()
            raise

    async def close(self) -> None:
        """Close every connection; requests in flight fail with Disconnected."""
        self._closed = True
        for connection in list(self._connections):
            connection.abort()
        if self._resolver is not None:
            await self._resolver.close()

    def _split(self, url: str) -> tuple[Origin, str]:
        cached = self._urls.get(url)
        if cached is not None:
            return cached
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        if scheme not in DEFAULT_PORTS or not host or parts.username or parts.password:
            raise ValueError("the upstream URL must be http(s) with a host and no credentials")
        port = parts.port or DEFAULT_PORTS[scheme]
        origin = self._origins.get((scheme, host, port))
        if origin is None:
            origin = self._origins[(scheme, host, port)] = Origin(scheme, host, port)
        target = quote(parts.path or "/", safe=SAFE_IN_PATH)
        if parts.query:
            target += "?" + quote(parts.query, safe=SAFE_IN_QUERY)
        if len(self._urls) >= CACHE_LIMIT:
            self._urls.clear()
        self._urls[url] = (origin, target)
        return origin, target

    def _header_block(self, headers: Mapping[str, str], has_body: bool) -> bytes:
        """The encoded header lines, cached per header mapping (adapters reuse theirs)."""
        key = (id(headers), has_body)
        cached = self._blocks.get(key)
        if cached is not None and cached[0] is headers:
            return cached[1]
        present = {name.lower() for name in headers}
        extra = {
            name: value for name, value in self._defaults.items() if name.lower() not in present
        }
        if has_body and "content-type" not in present:
            extra["Content-Type"] = "application/json"
        block = header_block({**headers, **extra})
        if len(self._blocks) >= CACHE_LIMIT:
            self._blocks.clear()
        self._blocks[key] = (headers, block)  # holding ``headers`` keeps its id unique
        return block

    async def _acquire(self, origin: Origin, connect_s: float) -> Connection:
        """Once the limits allow: a live idle connection to ``origin``, else a new one."""
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise ConnectFailed("the upstream client is closed")
            if self._active < self._limit and (
                not self._limit_per_host or origin.active < self._limit_per_host
            ):
                break
            waiter = loop.create_future()
            self._waiters.append(waiter)
            await waiter
        self._lease(origin)
        idle = origin.idle
        oldest_allowed = loop.time() - self._keepalive_s
        while idle:
            connection = idle.pop()
            if connection.usable and connection.idle_since > oldest_allowed:
                connection.leased = True
                return connection
            connection.close()
        try:
            return await self._connect(origin, connect_s)
        except BaseException:
            self._unlease(origin)
            raise

    def _lease(self, origin: Origin) -> None:
        self._active += 1
        origin.active += 1

    def _unlease(self, origin: Origin) -> None:
        self._active -= 1
        origin.active -= 1
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

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

    async def _connect(self, origin: Origin, connect_s: float) -> Connection:
        loop = asyncio.get_running_loop()
        on_idle = partial(self._on_idle, origin)
        on_lost = partial(self._on_lost, origin)
        tls = self._tls_context() if origin.tls else None
        error: Exception | None = None
        async with asyncio.timeout(connect_s):
            for host, port, family in await self._addresses(origin):
                try:
                    _, connection = await loop.create_connection(
                        lambda: Connection(loop, on_idle, on_lost),
                        host,
                        port,
                        family=family,
                        ssl=tls,
                        server_hostname=origin.host if tls else None,
                    )
                except OSError as exc:
                    error = exc
                    continue
                connection.leased = True
                self._connections.add(connection)
                return connection
        raise ConnectFailed(f"could not connect ({type(error).__name__})")

    async def _addresses(self, origin: Origin) -> list[tuple[str, int, int]]:
        """The origin's addresses, resolved (and checked by the resolver) at most every TTL."""
        loop = asyncio.get_running_loop()
        if origin.resolved_until > loop.time():
            return origin.addresses
        try:
            if self._resolver is not None:
                results = await self._resolver.resolve(origin.host, origin.port, socket.AF_UNSPEC)
                addresses = [(r["host"], r["port"], r["family"]) for r in results]
            else:
                infos = await loop.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
                addresses = [(str(info[4][0]), origin.port, info[0]) for info in infos]
        except OSError as exc:
            raise ConnectFailed(f"could not resolve the upstream host ({exc})") from None
        if not addresses:
            raise ConnectFailed("the upstream host resolves to no address")
        origin.addresses = addresses
        origin.resolved_until = loop.time() + self._dns_ttl_s
        return addresses

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
