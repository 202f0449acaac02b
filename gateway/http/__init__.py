"""A lean HTTP/1.1 client for upstream calls: pooled keep-alive connections, one timer each.

aiohttp's client spends more per request than the rest of a proxied call; this
one does only what a gateway needs: no cookies, redirects, proxies or tracing.
"""

from gateway.http.connection import Response, Timeouts
from gateway.http.errors import ConnectFailed, Disconnected, HTTPClientError, MalformedResponse
from gateway.http.pool import ConnectionPool

__all__ = [
    "ConnectFailed",
    "ConnectionPool",
    "Disconnected",
    "HTTPClientError",
    "MalformedResponse",
    "Response",
    "Timeouts",
]
