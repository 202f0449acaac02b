"""What can go wrong talking to an upstream, short of a timeout (which is TimeoutError)."""

from __future__ import annotations


class HTTPClientError(Exception):
    """Base of the upstream client's failures; messages never carry a URL or a header."""


class ConnectFailed(HTTPClientError):
    """No connection: DNS, refused, TLS, or an address the SSRF guard refuses."""


class Disconnected(HTTPClientError):
    """The connection closed before the answer was complete."""


class MalformedResponse(HTTPClientError):
    """The upstream's bytes are not HTTP/1.1 we can read; the connection is dropped."""
