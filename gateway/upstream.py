"""The upstream HTTP client: one pooled session per worker, timeouts, SSE relay.

Everything here is per worker and built once: the connector (keep-alive pool,
DNS cache), the session, and one ClientTimeout per distinct provider timeout.
Callers get the response once its headers arrived and must close or release it;
closing it on client disconnect drops the upstream connection at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver
from aiohttp.payload import BytesPayload

from gateway.adapters.base import UpstreamRequest
from gateway.settings import UpstreamSettings


class UpstreamUnreachable(Exception):
    """No answer: connect error, reset before headers, or a timeout."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


class Upstream:
    """The shared client session and the timeouts derived from settings."""

    def __init__(
        self,
        settings: UpstreamSettings,
        resolver: Callable[[], AbstractResolver] | None = None,
    ) -> None:
        """``resolver`` builds the connector's resolver at start, inside the running loop."""
        self.settings = settings
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        # The idle (socket read) timeout also bounds the wait for the headers;
        # a separate first-byte timer is needed only when it is the shorter one.
        self._first_byte_timer = settings.first_byte_timeout_s < settings.idle_timeout_s

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.settings.pool_size,
            limit_per_host=self.settings.pool_size_per_host,
            ttl_dns_cache=300,
            use_dns_cache=True,
            resolver=self._resolver() if self._resolver is not None else None,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Timeouts are given per request; the session default stays out of the way.
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the upstream client is not started")
        return self._session

    def timeout(self, provider_timeout_s: float) -> aiohttp.ClientTimeout:
        """Connect, idle-read and total timeouts; the provider's own timeout caps the total."""
        cached = self._timeouts.get(provider_timeout_s)
        if cached is None:
            s = self.settings
            cached = aiohttp.ClientTimeout(
                total=min(s.total_timeout_s, provider_timeout_s),
                connect=s.connect_timeout_s,
                sock_connect=s.connect_timeout_s,
                sock_read=s.idle_timeout_s,
            )
            self._timeouts[provider_timeout_s] = cached
        return cached

    async def send(
        self, request: UpstreamRequest, provider_timeout_s: float
    ) -> aiohttp.ClientResponse:
        """Send ``request`` and return once the status and headers arrived.

        Raises UpstreamUnreachable when there is no answer in time. The caller
        owns the response: ``release()`` after reading it, ``close()`` to abandon it.
        """
        data = (
            None
            if request.body is None
            else BytesPayload(request.body, content_type="application/json")
        )
        sending = self.session.request(
            request.method,
            request.url,
            headers=request.headers,
            data=data,
            params=request.params or None,
            timeout=self.timeout(provider_timeout_s),
        )
        try:
            if self._first_byte_timer:
                async with asyncio.timeout(self.settings.first_byte_timeout_s):
                    return await sending
            return await sending
        except TimeoutError:
            raise UpstreamUnreachable("timed out waiting for the answer", timed_out=True) from None
        except aiohttp.ClientConnectorError:
            raise UpstreamUnreachable("could not connect") from None
        except aiohttp.ClientError:
            raise UpstreamUnreachable("the connection failed before an answer") from None

    async def read(self, response: aiohttp.ClientResponse) -> bytes:
        """The whole body (bounded by the total and idle timeouts)."""
        try:
            return await response.read()
        except TimeoutError:
            raise UpstreamUnreachable("timed out reading the answer", timed_out=True) from None
        except aiohttp.ClientError:
            raise UpstreamUnreachable("the connection failed while reading the answer") from None


UPSTREAM = web.AppKey("upstream", Upstream)


async def upstream_context(app: web.Application) -> AsyncIterator[None]:
    """Open the worker's upstream session before serving; close it after the last request."""
    upstream = app[UPSTREAM]
    await upstream.start()
    yield
    await upstream.close()
