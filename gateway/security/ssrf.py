"""The SSRF guard for provider base URLs: at write time and again at connect time.

Link-local and cloud metadata addresses are always refused: they hand out
credentials to whoever asks. Private and loopback ranges are allowed only when
``settings.private_upstreams_allowed`` (Ollama and vLLM on the same host).
``check_upstream_url`` validates a URL when it is configured; ``GuardedResolver``
re-checks every address a host name resolves to when a connection is made, so
a name that later resolves somewhere else (DNS rebinding) is still refused.
IP literals never reach a resolver, which is why the write-time check matters.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from gateway.errors import InvalidRequest
from gateway.security.loopback import LOCAL_NAMES
from gateway.transport import AddressRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALWAYS_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "224.0.0.0/4", "ff00::/8")
)
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("100.64.0.0/10", "0.0.0.0/8", "::/128")  # CGNAT and "this host"
)
NAT64_NETWORKS = tuple(ipaddress.ip_network(net) for net in ("64:ff9b::/96", "64:ff9b:1::/48"))
"""RFC 6052 and RFC 8215 prefixes: the IPv4 address is in the last 32 bits."""
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class UnsafeUpstream(InvalidRequest):
    """A base URL or resolved address the gateway refuses to connect to."""

    default_code = "unsafe_upstream"


class UpstreamAddressRefused(AddressRefused):
    """Raised by GuardedResolver: the upstream client reports ConnectFailed and never connects.

    The message says that policy refused the address and which setting allows it,
    never the address itself.
    """


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[list[ipaddress.IPv4Address], bool]:
    """The IPv4 addresses an IPv6 transition form carries (6to4, Teredo, NAT64, mapped,
    compatible), and whether the IPv6 form is only a spelling of them (mapped, NAT64,
    compatible: then the IPv4 address alone decides)."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped], True
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in net for net in NAT64_NETWORKS):
        return [low32], True
    if address in IPV4_COMPATIBLE and int(address) > 1:  # deprecated ::a.b.c.d
        return [low32], True
    if address.sixtofour is not None:
        return [address.sixtofour], False
    if address.teredo is not None:
        return list(address.teredo), False  # the relay and the (de-obfuscated) client
    return [], False


def address_problem(address: IPAddress, allow_private: bool) -> str | None:
    """Why ``address`` is refused, or None when it may be connected to.

    An IPv6 address that embeds an IPv4 one (6to4, Teredo, NAT64, mapped) is
    judged by the embedded address too: each leads there.
    """
    if isinstance(address, ipaddress.IPv6Address):
        inner, spelling = embedded_ipv4(address)
        for embedded in inner:
            problem = _problem(embedded, allow_private)
            if problem is not None:
                return problem
        if spelling:
            return None
    return _problem(address, allow_private)


def _problem(address: IPAddress, allow_private: bool) -> str | None:
    if any(address in net for net in ALWAYS_REFUSED_NETWORKS):
        return "a link-local or cloud metadata address (no setting allows it)"
    if allow_private:
        return None
    if (
        address.is_private
        or address.is_loopback
        or address.is_reserved
        or address.is_unspecified
        or any(address in net for net in PRIVATE_NETWORKS)
    ):
        return "a private address (set security.allow_private_upstreams to allow it)"
    return None


def check_upstream_url(url: str, allow_private: bool, *, param: str = "base_url") -> str:
    """Validate a provider base URL; return it unchanged or raise UnsafeUpstream."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise UnsafeUpstream(f"{param} is not a valid URL.", param=param) from None
    if parts.scheme not in ("http", "https") or not host:
        raise UnsafeUpstream(f"{param} must be an http or https URL with a host.", param=param)
    if parts.username is not None or parts.password is not None:
        raise UnsafeUpstream(
            f"{param} must not carry credentials; configure the provider's key instead.",
            param=param,
        )
    name = host.rstrip(".").lower()
    if name in METADATA_HOSTS:
        raise UnsafeUpstream(f"{param} points at a cloud metadata service.", param=param)
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        if not allow_private and (name in LOCAL_NAMES or name.endswith(".localhost")):
            raise UnsafeUpstream(
                f"{param} points at this host (set security.allow_private_upstreams to allow it).",
                param=param,
            ) from None
        return url
    problem = address_problem(address, allow_private)
    if problem is not None:
        raise UnsafeUpstream(f"{param} points at {problem}.", param=param)
    return url


class GuardedResolver(AbstractResolver):
    """Wraps a resolver and refuses host names that resolve to a refused address."""

    def __init__(self, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self.allow_private = allow_private
        self.inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host.rstrip(".").lower() in METADATA_HOSTS:
            raise UpstreamAddressRefused(
                "the upstream address was refused by policy: a cloud metadata service"
                " (no setting allows it)"
            )
        results = await self.inner.resolve(host, port, family)
        for result in results:
            problem = address_problem(ipaddress.ip_address(result["host"]), self.allow_private)
            if problem is not None:
                raise UpstreamAddressRefused(
                    f"the upstream address was refused by policy: {problem}"
                )
        return results

    def check_host(self, host: str) -> None:
        """The guard for hosts no resolver of ours sees: IP literals, and names that a proxy
        resolves. Raises UpstreamAddressRefused."""
        name = host.strip("[]").rstrip(".").lower()
        if name in METADATA_HOSTS:
            raise UpstreamAddressRefused(
                "the upstream address was refused by policy: a cloud metadata service"
                " (no setting allows it)"
            )
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            if not self.allow_private and (name in LOCAL_NAMES or name.endswith(".localhost")):
                raise UpstreamAddressRefused(
                    "the upstream address was refused by policy: this host"
                    " (set security.allow_private_upstreams to allow it)"
                ) from None
            return
        problem = address_problem(address, self.allow_private)
        if problem is not None:
            raise UpstreamAddressRefused(f"the upstream address was refused by policy: {problem}")

    async def close(self) -> None:
        await self.inner.close()
