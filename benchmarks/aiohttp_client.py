"""aiohttp's ClientSession behind the gateway's transport boundary, for the comparison.

The same boundary as ``gateway.http`` (``gateway.transport``): proxies from the
gateway's settings (as ``trust_env`` would read them, but through settings),
no redirects, the SSRF-checking resolver, the same timeouts, body cap and
failure reasons. ``tests/http`` runs its behavioural cases against both and
``make bench`` measures both; the gateway ships its own (see the README).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy

from gateway.egress import ProxyRules
from gateway.http.errors import BodyTooLarge, Disconnected, MalformedResponse, ReadTimeout
from gateway.http.pool import ERRNO_REASONS, is_ip_literal
from gateway.http.wire import FRAMING_HEADERS, header_block
from gateway.security.ssrf import GuardedResolver
from gateway.settings import UpstreamSettings
from gateway.transport import (
    AddressRefused,
    ConnectFailed,
    Timeouts,
    UpstreamBroken,
    UpstreamResponse,
)
from gateway.upstream import proxy_rules


class AiohttpResponse:
    """An aiohttp response as the boundary's UpstreamResponse."""

    __slots__ = ("_max_body", "_response", "headers", "reason", "status")

    def __init__(self, response: aiohttp.ClientResponse, max_body: int) -> None:
        self._response = response
        self._max_body = max_body
        self.status = response.status
        self.reason = response.reason or ""
        self.headers: CIMultiDictProxy[str] = response.headers

    @property
    def content_type(self) -> str:
        return self._response.content_type

    async def read(self) -> bytes:
        length = self._response.content_length
        if length is not None and length > self._max_body:
            self._response.close()
            raise _too_large(self._max_body)
        pieces: list[bytes] = []
        size = 0
        try:
            async for piece in self._response.content.iter_any():
                size += len(piece)
                if size > self._max_body:
                    self._response.close()
                    raise _too_large(self._max_body)
                pieces.append(piece)
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._response.close()  # a failed answer drops its connection
            raise _broken(exc) from None
        return b"".join(pieces)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for piece in self._response.content.iter_any():
                yield piece
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._response.close()
            raise _broken(exc) from None

    def close(self) -> None:
        self._response.close()


class AiohttpClient:
    """The boundary's Transport over one aiohttp ClientSession."""

    def __init__(
        self, settings: UpstreamSettings, guard: GuardedResolver | None, user_agent: str
    ) -> None:
        connector = aiohttp.TCPConnector(
            limit=settings.pool_size,
            limit_per_host=settings.pool_size_per_host,
            resolver=guard,
            ttl_dns_cache=300,
            keepalive_timeout=settings.idle_connection_s,
            happy_eyeballs_delay=settings.happy_eyeballs_delay_s,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
            auto_decompress=True,
            trust_env=False,  # the environment's proxies arrive through settings
        )
        self._guard = guard
        self._proxies: ProxyRules = proxy_rules(settings)
        self._max_body = settings.max_body_bytes
        self._headers: dict[int, tuple[Mapping[str, str], dict[str, str]]] = {}

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
        params: Mapping[str, str] | None = None,
        proxy: str | None = None,
    ) -> UpstreamResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
            raise ValueError("the upstream URL must be http(s) with a host and no credentials")
        host = parts.hostname
        chosen = self._proxies.choose(parts.scheme, host, proxy)
        if self._guard is not None and (chosen is not None or is_ip_literal(host)):
            try:
                self._guard.check_host(host)
            except AddressRefused as exc:
                raise ConnectFailed(str(exc)) from None
        options: dict[str, Any] = {}
        if chosen is not None:
            options["proxy"] = f"http://{chosen.shown}"
            if chosen.authorization:
                options["proxy_headers"] = {"Proxy-Authorization": chosen.authorization}
        if body is not None:
            options["data"] = body
        timeout = aiohttp.ClientTimeout(
            total=timeouts.total, connect=timeouts.connect, sock_read=timeouts.idle
        )
        try:
            async with asyncio.timeout(timeouts.first_byte):
                response = await self._session.request(
                    method,
                    url,
                    headers=self._own_headers(headers, body is not None),
                    params=params or None,
                    allow_redirects=False,
                    timeout=timeout,
                    **options,
                )
        except TimeoutError as exc:
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise ConnectFailed(
                    f"the connection was not established within {timeouts.connect:g}s",
                    timed_out=True,
                ) from None
            raise ReadTimeout(f"no answer within {timeouts.first_byte:g}s") from None
        except aiohttp.ClientConnectorError as exc:
            raise ConnectFailed(_connect_reason(exc)) from None
        except aiohttp.ClientHttpProxyError as exc:
            raise ConnectFailed(f"the proxy refused the tunnel ({exc.status})") from None
        except aiohttp.InvalidURL:
            raise ValueError("the upstream URL is not valid") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise _broken(exc) from None
        except aiohttp.ClientResponseError:
            raise MalformedResponse("the upstream's answer is not HTTP/1.1 aiohttp reads") from None
        except RuntimeError:  # aiohttp: "Session is closed"
            raise ConnectFailed("the upstream client is closed") from None
        return AiohttpResponse(response, self._max_body)

    async def close(self) -> None:
        await self._session.close()

    def _own_headers(self, headers: Mapping[str, str], has_body: bool) -> dict[str, str]:
        """The caller's headers without framing ones, with a JSON Content-Type for bodies."""
        cached = self._headers.get(id(headers))
        if cached is not None and cached[0] is headers:
            return cached[1]
        header_block(headers)  # the same refusals (control characters, bad names) as ours
        own = {k: v for k, v in headers.items() if k.lower() not in FRAMING_HEADERS}
        if has_body and not any(k.lower() == "content-type" for k in own):
            own["Content-Type"] = "application/json"
        self._headers[id(headers)] = (headers, own)
        return own


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"the answer is larger than upstream.max_body_bytes ({limit} bytes)")


def _broken(exc: BaseException) -> UpstreamBroken:
    if isinstance(exc, asyncio.TimeoutError):
        return ReadTimeout("the upstream sent nothing in time")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return Disconnected("the connection closed before the answer was complete")
    if isinstance(exc, aiohttp.ClientPayloadError):
        detail = repr(exc.__cause__ or exc)
        if "Encoding" in detail and "Not enough data" not in detail:
            return MalformedResponse("the upstream's body is malformed")
    return Disconnected(f"the connection failed ({type(exc).__name__})")


def _connect_reason(exc: aiohttp.ClientConnectorError) -> str:
    os_error = exc.os_error
    if isinstance(os_error, AddressRefused):
        return str(os_error)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        certificate_error = exc.certificate_error
        detail = getattr(certificate_error, "verify_message", None) or str(certificate_error)
        return f"TLS certificate verification failed: {detail}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError) or isinstance(os_error, ssl.SSLError):
        return "the TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "the upstream host name could not be resolved"
    known = ERRNO_REASONS.get(os_error.errno or 0)
    via = " (proxy)" if isinstance(exc, aiohttp.ClientProxyConnectionError) else ""
    return (known or f"the connection failed ({type(os_error).__name__})") + via
