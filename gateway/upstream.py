"""The upstream client of one worker: its connection pool, the timeouts, and error mapping.

Everything here is built once per worker: the pool (keep-alive connections,
DNS cache, the SSRF-checking resolver) and one Timeouts per distinct provider
timeout. Callers get the response once its head arrived; a body read to its end
frees the connection by itself, and ``close()`` abandons the rest (dropping the
connection at once, as on a client disconnect).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web
from aiohttp.abc import AbstractResolver

from gateway import __version__
from gateway.adapters.base import UpstreamRequest
from gateway.http import ConnectFailed, ConnectionPool, HTTPClientError, Response, Timeouts
from gateway.settings import UpstreamSettings

USER_AGENT = f"llm-gateway/{__version__}"


class UpstreamUnreachable(Exception):
    """No answer: connect error, reset before headers, or a timeout."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


class Upstream:
    """The worker's connection pool and the timeouts derived from settings."""

    def __init__(
        self,
        settings: UpstreamSettings,
        resolver: Callable[[], AbstractResolver] | None = None,
    ) -> None:
        """``resolver`` builds the pool's resolver at start, inside the running loop."""
        self.settings = settings
        self._resolver = resolver
        self._pool: ConnectionPool | None = None
        self._timeouts: dict[float, Timeouts] = {}

    async def start(self) -> None:
        self._pool = ConnectionPool(
            limit=self.settings.pool_size,
            limit_per_host=self.settings.pool_size_per_host,
            resolver=self._resolver() if self._resolver is not None else None,
            user_agent=USER_AGENT,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            raise RuntimeError("the upstream client is not started")
        return self._pool

    def timeouts(self, provider_timeout_s: float) -> Timeouts:
        """Connect, first-byte, idle-read and total; the provider's own timeout caps the total."""
        cached = self._timeouts.get(provider_timeout_s)
        if cached is None:
            s = self.settings
            cached = self._timeouts[provider_timeout_s] = Timeouts(
                connect=s.connect_timeout_s,
                first_byte=s.first_byte_timeout_s,
                idle=s.idle_timeout_s,
                total=min(s.total_timeout_s, provider_timeout_s),
            )
        return cached

    async def send(self, request: UpstreamRequest, provider_timeout_s: float) -> Response:
        """Send ``request`` and return once the status and headers arrived.

        Raises UpstreamUnreachable when there is no answer in time. The caller
        reads the body to its end or ``close()``s the response.
        """
        return await self._send(request, self.timeouts(provider_timeout_s))

    async def read(self, response: Response) -> bytes:
        """The whole body (bounded by the total and idle timeouts)."""
        try:
            return await response.read()
        except TimeoutError:
            raise UpstreamUnreachable("timed out reading the answer", timed_out=True) from None
        except HTTPClientError:
            raise UpstreamUnreachable("the connection failed while reading the answer") from None

    async def fetch(self, request: UpstreamRequest, timeout_s: float) -> tuple[int, bytes]:
        """A small request (models list, health probe) in at most ``timeout_s``: (status, body)."""
        timeouts = Timeouts(
            connect=min(self.settings.connect_timeout_s, timeout_s),
            first_byte=timeout_s,
            idle=timeout_s,
            total=timeout_s,
        )
        response = await self._send(request, timeouts)
        try:
            return response.status, await self.read(response)
        finally:
            response.close()

    async def _send(self, request: UpstreamRequest, timeouts: Timeouts) -> Response:
        try:
            return await self.pool.request(
                request.method,
                request.url,
                request.headers,
                request.body,
                timeouts,
                request.params,
            )
        except TimeoutError:
            raise UpstreamUnreachable("timed out waiting for the answer", timed_out=True) from None
        except ConnectFailed:
            raise UpstreamUnreachable("could not connect") from None
        except ValueError as exc:  # a URL or header the client refuses to put on the wire
            raise UpstreamUnreachable(f"the request could not be sent: {exc}") from None
        except HTTPClientError:
            raise UpstreamUnreachable("the connection failed before an answer") from None


UPSTREAM = web.AppKey("upstream", Upstream)


async def upstream_context(app: web.Application) -> AsyncIterator[None]:
    """Open the worker's upstream pool before serving; close it after the last request."""
    upstream = app[UPSTREAM]
    await upstream.start()
    yield
    await upstream.close()
