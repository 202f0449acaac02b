"""Every request's id: a sane incoming X-Request-ID, or a fresh one.

The middleware frame (gateway.middleware) assigns it first thing, before
anything logs. Each application has its own ``RequestIds``, which knows that
application's secrets: a client's id that is one of them is never taken.
"""

from __future__ import annotations

import os
import re

from gateway.security.redaction import SecretRegistry

_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_ID_HEX = 24
_POOL_IDS = 256


class RequestIds:
    """Random ids cut from one os.urandom call per 256 ids: one syscall per id cost more."""

    __slots__ = ("_hex", "_next", "_secrets")

    def __init__(self, secrets: SecretRegistry) -> None:
        self._hex = ""
        self._next = 0
        self._secrets = secrets

    def new(self) -> str:
        start = self._next
        if start >= len(self._hex):
            self._hex = os.urandom(_POOL_IDS * _ID_HEX // 2).hex()
            start = 0
        self._next = start + _ID_HEX
        return self._hex[start : start + _ID_HEX]

    def accepted(self, incoming: str | None) -> str:
        """The client's id when it is sane and not shaped like a key (it reaches every log
        line), else a new one."""
        if incoming and _SANE_ID.fullmatch(incoming) and not self._secrets.looks_secret(incoming):
            return incoming
        return self.new()
