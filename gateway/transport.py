"""The boundary between the gateway and the HTTP client below it: its offer, its exceptions.

Only ``gateway.upstream`` chooses the client; everything above it sees these
types. A client raises ``ConnectFailed`` (no connection), ``UpstreamBroken``
(the answer failed, before or after its head; ``timed_out`` says whether a
deadline ended it) or ``ValueError`` (a URL or header it refuses to send).
Reasons never carry a URL, a header or an address that policy refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed: to connect (pool wait included), to the response head, between body
    reads, and in all."""

    connect: float
    first_byte: float
    idle: float
    total: float


class UpstreamFailure(Exception):
    """Base of what the boundary raises: a reason fit for the client's error message."""

    timed_out = False
    code = "upstream_unreachable"

    def __init__(self, reason: str, *, timed_out: bool | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if timed_out is not None:
            self.timed_out = timed_out


class ConnectFailed(UpstreamFailure):
    """No connection: DNS, refused, TLS, a proxy, an address policy refuses, or the connect
    timeout (pool wait included)."""


class UpstreamBroken(UpstreamFailure):
    """The connection failed or timed out while waiting for or reading the answer."""

    code = "upstream_disconnected"


class AddressRefused(OSError):
    """The SSRF guard refused the address a connection would go to; the message names the
    policy and the setting that allows it, never the address."""


class UpstreamResponse(Protocol):
    """An answer whose head has arrived; the body is read whole or iterated, then closed."""

    status: int

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content_type(self) -> str: ...

    async def read(self) -> bytes:
        """The whole body, bounded by the client's body-size cap."""
        ...

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (no size cap: streams may be long)."""
        ...

    def close(self) -> None:
        """Abandon what is left of the body (the connection is dropped unless it is done)."""
        ...


class Transport(Protocol):
    """An HTTP client: pooled connections, proxies, the SSRF guard, the timeouts."""

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
        """Send one request; return once the answer's head arrived. ``proxy`` overrides the
        environment's (``""`` for none)."""
        ...

    async def close(self) -> None: ...
