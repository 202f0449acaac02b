"""What can go wrong talking to an upstream, as the transport boundary's exceptions.

Messages never carry a URL, a header or an address that policy refused.
"""

from __future__ import annotations

from gateway.transport import ConnectFailed, UpstreamBroken

__all__ = [
    "BodyTooLarge",
    "ConnectFailed",
    "Disconnected",
    "HTTPClientError",
    "MalformedResponse",
    "ReadTimeout",
]


class HTTPClientError(UpstreamBroken):
    """Base of the client's failures once a connection is open."""


class Disconnected(HTTPClientError):
    """The connection closed before the answer was complete.

    ``unanswered``: not one byte of an answer arrived; ``unsent``: the request was
    not written either (the pool may then retry it on a fresh connection).
    """

    unanswered = False
    unsent = False


class MalformedResponse(HTTPClientError):
    """The upstream's bytes are not HTTP/1.1 we can read; the connection is dropped."""


class ReadTimeout(HTTPClientError, TimeoutError):
    """A first-byte, idle, total or stream-duration deadline passed."""

    timed_out = True
    code = "upstream_timeout"


class BodyTooLarge(HTTPClientError):
    """A body read whole grew past the configured cap."""

    code = "upstream_too_large"
