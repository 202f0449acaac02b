"""The upstream boundary: the one module that knows which HTTP client sits below.

Everything here is built once per worker: the client (keep-alive pools, DNS
cache, the SSRF guard, proxies from settings) and one Timeouts per distinct
provider timeout. Callers get the response once its head arrived; a body read
to its end frees the connection by itself, and ``close()`` abandons the rest.
Failures are ``UpstreamFailure``s (``UpstreamUnreachable`` from ``send``,
``UpstreamBroken`` from reading or iterating), and ``upstream_error`` is their
one translation into what a client sees.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiohttp import web

from gateway import __version__
from gateway.adapters.base import UpstreamRequest
from gateway.egress import ProxyRules
from gateway.errors import UpstreamError
from gateway.http import ConnectionPool
from gateway.security.ssrf import GuardedResolver
from gateway.settings import UpstreamSettings
from gateway.transport import (
    ConnectFailed,
    Timeouts,
    Transport,
    UpstreamBroken,
    UpstreamFailure,
    UpstreamResponse,
)

__all__ = [
    "UPSTREAM",
    "Upstream",
    "UpstreamBroken",
    "UpstreamFailure",
    "UpstreamResponse",
    "UpstreamUnreachable",
    "upstream_error",
]

USER_AGENT = f"llm-gateway/{__version__}"
logger = logging.getLogger("gateway.upstream")

ClientFactory = Callable[[UpstreamSettings, GuardedResolver | None, str], Transport]
"""Builds the HTTP client from the settings, the SSRF guard and the User-Agent."""


class UpstreamUnreachable(UpstreamFailure):
    """No answer: connect error, reset before the head, or a timeout."""


def upstream_error(provider_id: str | None, exc: UpstreamFailure) -> UpstreamError:
    """What the client (and the log) see of a transport failure: its reason, 504 or 502."""
    logger.warning("upstream %s failed: %s", provider_id or "call", exc.reason)
    return UpstreamError(
        f"Provider '{provider_id}': {exc.reason}."
        if provider_id
        else f"The upstream: {exc.reason}.",
        status=504 if exc.timed_out else 502,
        code="upstream_timeout" if exc.timed_out else exc.code,
        headers={"X-Gateway-Provider": provider_id} if provider_id else None,
    )


def own_client(
    settings: UpstreamSettings, guard: GuardedResolver | None, user_agent: str
) -> Transport:
    """The gateway's own HTTP/1.1 client (``gateway.http``)."""
    return ConnectionPool(
        limit=settings.pool_size,
        limit_per_host=settings.pool_size_per_host,
        resolver=guard,
        guard=guard.check_host if guard is not None else None,
        proxies=proxy_rules(settings),
        keepalive_s=settings.idle_connection_s,
        happy_eyeballs_delay_s=settings.happy_eyeballs_delay_s,
        max_body_bytes=settings.max_body_bytes,
        user_agent=user_agent,
    )


def proxy_rules(settings: UpstreamSettings) -> ProxyRules:
    return ProxyRules(settings.http_proxy, settings.https_proxy, settings.no_proxy)


class Upstream:
    """The worker's HTTP client and the timeouts derived from settings."""

    def __init__(
        self,
        settings: UpstreamSettings,
        guard: Callable[[], GuardedResolver] | None = None,
        client: ClientFactory = own_client,
    ) -> None:
        """``guard`` builds the SSRF-checking resolver at start, inside the running loop."""
        self.settings = settings
        self._guard = guard
        self.client_factory = client
        """Which client ``start`` builds (the benchmarks compare aiohttp's)."""
        self._client: Transport | None = None
        self._timeouts: dict[tuple[float, bool], Timeouts] = {}

    async def start(self) -> None:
        guard = self._guard() if self._guard is not None else None
        self._client = self.client_factory(self.settings, guard, USER_AGENT)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    @property
    def client(self) -> Transport:
        if self._client is None:
            raise RuntimeError("the upstream client is not started")
        return self._client

    def timeouts(self, provider_timeout_s: float, stream: bool = False) -> Timeouts:
        """Connect, first-byte, idle-read and total.

        A provider's ``timeout_s`` caps a whole answer, but only the first byte of
        a stream: then the idle timeout applies between chunks, and
        ``max_stream_s`` to the whole.
        """
        key = (provider_timeout_s, stream)
        cached = self._timeouts.get(key)
        if cached is None:
            s = self.settings
            if stream:
                cached = Timeouts(
                    connect=s.connect_timeout_s,
                    first_byte=min(s.first_byte_timeout_s, provider_timeout_s),
                    idle=s.idle_timeout_s,
                    total=s.max_stream_s,
                )
            else:
                cached = Timeouts(
                    connect=s.connect_timeout_s,
                    first_byte=s.first_byte_timeout_s,
                    idle=s.idle_timeout_s,
                    total=min(s.total_timeout_s, provider_timeout_s),
                )
            self._timeouts[key] = cached
        return cached

    def send(
        self,
        request: UpstreamRequest,
        provider_timeout_s: float,
        *,
        stream: bool = False,
        proxy: str | None = None,
    ) -> Coroutine[Any, Any, UpstreamResponse]:
        """Send ``request`` (await it) and return once the status and headers arrived.

        Raises UpstreamUnreachable when there is no answer in time. The caller
        reads the body to its end (``read()`` raises UpstreamBroken) or
        ``close()``s the response. ``proxy`` is a provider's own (``""``: none).
        A plain function handing back ``_send``'s coroutine: one frame less per call.
        """
        return self._send(request, self.timeouts(provider_timeout_s, stream), proxy)

    async def fetch(
        self, request: UpstreamRequest, timeout_s: float, proxy: str | None = None
    ) -> tuple[int, bytes]:
        """A small request (models list, health probe) in at most ``timeout_s``: (status, body).

        Raises UpstreamFailure.
        """
        timeouts = Timeouts(
            connect=min(self.settings.connect_timeout_s, timeout_s),
            first_byte=timeout_s,
            idle=timeout_s,
            total=timeout_s,
        )
        response = await self._send(request, timeouts, proxy)
        try:
            return response.status, await response.read()
        finally:
            response.close()

    async def _send(
        self, request: UpstreamRequest, timeouts: Timeouts, proxy: str | None
    ) -> UpstreamResponse:
        client = self._client
        if client is None:
            raise RuntimeError("the upstream client is not started")
        try:
            return await client.request(
                request.method,
                request.url,
                request.headers,
                request.body,
                timeouts,
                request.params,
                proxy,
            )
        except ConnectFailed as exc:
            reason = f"could not connect: {exc.reason}"
            raise UpstreamUnreachable(reason, timed_out=exc.timed_out) from None
        except UpstreamBroken as exc:
            raise UpstreamUnreachable(exc.reason, timed_out=exc.timed_out) from None
        except ValueError as exc:  # a URL or header the client refuses to put on the wire
            raise UpstreamUnreachable(f"the request could not be sent: {exc}") from None


UPSTREAM = web.AppKey("upstream", Upstream)


async def upstream_context(app: web.Application) -> AsyncIterator[None]:
    """Open the worker's upstream client before serving; close it after the last request."""
    upstream = app[UPSTREAM]
    await upstream.start()
    yield
    await upstream.close()
