"""Egress proxies: which HTTP proxy an upstream URL goes through, decided as curl decides.

``HTTP_PROXY``/``HTTPS_PROXY`` name the proxy per upstream scheme and ``NO_PROXY``
lists the hosts reached directly (read into settings by ``gateway.settings``,
never here). A provider's own ``proxy`` overrides both: a URL, or ``""`` for none.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Proxy:
    """An ``http://`` proxy: where it listens and the credentials its URL carries."""

    host: str
    port: int
    authorization: str | None
    """``Basic ...`` for the ``Proxy-Authorization`` header, when the URL has a user."""

    @property
    def shown(self) -> str:
        """The proxy for messages and logs: host and port, never its credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_proxy(url: str) -> Proxy:
    """``http://[user:password@]host[:port]``; raises ValueError (without the password)."""
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        port = parts.port or 80
    except ValueError:
        raise ValueError("the proxy URL is not a valid URL") from None
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise ValueError("the proxy URL must be http://host[:port] (no https or socks proxies)")
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return Proxy(parts.hostname, port, authorization)


def masked_proxy_url(url: str | None) -> str | None:
    """A proxy URL with its password replaced by ``***`` (for printing the settings)."""
    if not url:
        return url
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()


class NoProxy:
    """``NO_PROXY`` as curl reads it: ``*``, domain names (a name matches itself and its
    subdomains; a leading dot changes nothing), IP addresses and CIDR ranges."""

    __slots__ = ("_all", "_names", "_networks")

    def __init__(self, spec: str) -> None:
        self._all = False
        self._names: list[str] = []
        self._networks: list[IPNetwork] = []
        for raw in spec.replace(" ", ",").split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                self._all = True
                continue
            literal = entry.strip("[]")
            try:
                self._networks.append(ipaddress.ip_network(literal, strict=False))
                continue
            except ValueError:
                pass
            self._names.append(entry.strip(".").rsplit(":", 1)[0] if "]" not in entry else entry)

    def bypass(self, host: str) -> bool:
        """True when ``host`` (a name or an address, lower-case) is reached directly."""
        if self._all:
            return True
        name = host.strip("[]").rstrip(".")
        if self._networks:
            try:
                address = ipaddress.ip_address(name)
            except ValueError:
                pass
            else:
                return any(address in network for network in self._networks)
        return any(name == entry or name.endswith("." + entry) for entry in self._names)


class ProxyRules:
    """The proxy for each upstream scheme, and the hosts that bypass it."""

    __slots__ = ("_by_scheme", "_no_proxy")

    def __init__(
        self, http: str | None = None, https: str | None = None, no_proxy: str | None = None
    ) -> None:
        self._by_scheme = {
            scheme: parse_proxy(url) for scheme, url in (("http", http), ("https", https)) if url
        }
        self._no_proxy = NoProxy(no_proxy or "")

    def choose(self, scheme: str, host: str, override: str | None = None) -> Proxy | None:
        """The proxy for ``scheme://host``; ``override`` is a provider's own (``""``: none)."""
        if override is not None:
            return parse_proxy(override) if override else None
        proxy = self._by_scheme.get(scheme)
        if proxy is None or self._no_proxy.bypass(host):
            return None
        return proxy
