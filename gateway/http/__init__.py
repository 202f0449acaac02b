"""A lean HTTP/1.1 client for upstream calls: pooled keep-alive connections, one timer each.

aiohttp's client spends more per request than the rest of a proxied call; this
one does what a gateway needs: keep-alive pools, proxies (CONNECT and
absolute-form), happy eyeballs, the SSRF guard, timeouts, and no cookies,
redirects or tracing. It implements the boundary in ``gateway.transport``.
"""

from gateway.http.connection import Response
from gateway.http.errors import (
    BodyTooLarge,
    ConnectFailed,
    Disconnected,
    HTTPClientError,
    MalformedResponse,
    ReadTimeout,
)
from gateway.http.pool import ConnectionPool
from gateway.transport import Timeouts

__all__ = [
    "BodyTooLarge",
    "ConnectFailed",
    "ConnectionPool",
    "Disconnected",
    "HTTPClientError",
    "MalformedResponse",
    "ReadTimeout",
    "Response",
    "Timeouts",
]
