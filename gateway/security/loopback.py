"""The names of this machine, in one place: for the bind address, Host headers and upstream URLs."""

from __future__ import annotations

import ipaddress

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
"""Host names that mean this machine."""
LOOPBACK_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
"""The Host header names answered while auth is off (a DNS-rebinding page sends its own)."""


def is_loopback(host: str) -> bool:
    """Whether a host name or IP literal (a bind address, say) is this machine only."""
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_host(host: str) -> bool:
    """Whether a Host header names this machine (``localhost``, ``127.0.0.1``, ``[::1]``)."""
    name = host.lower()
    name = name[: name.find("]") + 1] if name.startswith("[") else name.partition(":")[0]
    return name in LOOPBACK_HOST_NAMES
