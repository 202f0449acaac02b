"""Incoming connections: deadlines, a cap per client address, and HTTP parser errors.

aiohttp's own request handler waits for a request head forever, keeps an idle
connection for an hour, and answers what its parser refuses (bad method, NUL in
a header, oversized lines) in plain text with its version in ``Server`` and an
ERROR traceback in the log. The gateway's runner swaps in a handler that:

- closes a connection whose request (head and body) is not received within
  ``server.request_timeout_s`` of its first byte, and one idle for
  ``server.keepalive_timeout_s`` (aiohttp's keep-alive timer, from connect on);
- refuses connections beyond ``server.max_connections_per_client`` from one
  address (trusted proxies are exempt);
- answers parser errors in OpenAI's error shape with the security headers,
  logging one WARNING line without a traceback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from gateway.errors import error_body, error_class_for
from gateway.middleware.security_headers import security_headers
from gateway.settings import Settings

logger = logging.getLogger("gateway.connections")


class GatewayServer(Server):
    """aiohttp's server (the protocol factory) with the gateway's request handler."""

    def __init__(self, base: Server, settings: Settings) -> None:
        super().__init__(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            loop=base._loop,
            **base._kwargs,
        )
        self.request_timeout_s = settings.server.request_timeout_s
        self.max_per_client = settings.server.max_connections_per_client
        self.trusted = [
            ipaddress.ip_network(net, strict=False) for net in settings.rate_limit.trusted_proxies
        ]
        self.error_headers = {**security_headers(settings), "Server": "gateway"}
        self.per_client: Counter[str] = Counter()

    def __call__(self) -> RequestHandler:
        return GatewayRequestHandler(self, loop=self._loop, **self._kwargs)

    def admit(self, address: str) -> bool:
        """Count a new connection from ``address``; False when it is one too many."""
        if self.per_client[address] >= self.max_per_client and not self._trusted(address):
            return False
        self.per_client[address] += 1
        return True

    def release(self, address: str) -> None:
        self.per_client[address] -= 1
        if self.per_client[address] <= 0:
            del self.per_client[address]

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)


class GatewayRequestHandler(RequestHandler):
    """One connection: a deadline while a request is being received, a per-client cap."""

    __slots__ = ("_address", "_deadline", "_receiving")

    def __init__(self, manager: GatewayServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._address: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._receiving: Any = None
        """The payload of the request being received (None: between requests)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        manager = self._manager
        assert isinstance(manager, GatewayServer)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else "local"
        super().connection_made(transport)
        if manager.admit(address):
            self._address = address
        else:
            logger.warning("refused a connection from %s: too many open connections", address)
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        manager = self._manager
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._address is not None and isinstance(manager, GatewayServer):
            manager.release(self._address)
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        count = self._request_count
        super().data_received(data)
        if self._request_count != count and self._messages:
            self._receiving = self._messages[-1][1]
        receiving = self._receiving
        if receiving is not None and receiving.is_eof():
            self._receiving = None  # head and body are in: the handler's time is its own
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
        elif self._deadline is None and data and self._manager is not None:
            manager = self._manager
            assert isinstance(manager, GatewayServer)
            self._deadline = self._loop.call_later(manager.request_timeout_s, self._too_slow)

    def _too_slow(self) -> None:
        """The request was not received in time (a slow or stalled client): drop it."""
        self._deadline = None
        self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """What aiohttp itself refuses, in OpenAI's error shape; logged in one line."""
        if request.writer.output_size > 0:
            raise ConnectionError("the answer has started; no error can be sent")
        full = message or (str(exc) if exc is not None else "")
        reason = (full.strip().splitlines() or ["bad request"])[0][:200]
        if status >= 500:
            logger.error("request from %s failed: %s", request.remote, reason, exc_info=exc)
            text = "Internal server error."
        else:
            logger.warning("refused a malformed request from %s: %s", request.remote, reason)
            text = f"Malformed HTTP request: {reason}"
        error = error_class_for(status)
        body = error_body(text, error.type, None, "malformed_request" if status < 500 else None)
        manager = self._manager
        headers = manager.error_headers if isinstance(manager, GatewayServer) else {}
        response = web.Response(
            status=status,
            body=orjson.dumps(body),
            content_type="application/json",
            headers=headers,
        )
        response.force_close()
        return response


class GatewayRunner(web.AppRunner):
    """An AppRunner whose server uses GatewayRequestHandler."""

    def __init__(self, app: web.Application, settings: Settings, **kwargs: Any) -> None:
        kwargs.setdefault("keepalive_timeout", settings.server.keepalive_timeout_s)
        super().__init__(app, **kwargs)
        self._settings = settings

    async def _make_server(self) -> Server:
        return GatewayServer(await super()._make_server(), self._settings)
