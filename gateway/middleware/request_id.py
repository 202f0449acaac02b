"""Every request's id: a sane incoming X-Request-ID, or a fresh one.

The access-log middleware assigns it first thing, in the same frame as its timer.
"""

from __future__ import annotations

import os
import re

from gateway.security.redaction import looks_secret

_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_ID_HEX = 24
_POOL_IDS = 256


class _IdPool:
    """Random ids cut from one os.urandom call per 256 ids: one syscall per id cost more."""

    __slots__ = ("_hex", "_next")

    def __init__(self) -> None:
        self._hex = ""
        self._next = 0

    def take(self) -> str:
        start = self._next
        if start >= len(self._hex):
            self._hex = os.urandom(_POOL_IDS * _ID_HEX // 2).hex()
            start = 0
        self._next = start + _ID_HEX
        return self._hex[start : start + _ID_HEX]


new_request_id = _IdPool().take


def accepted_id(incoming: str | None) -> str:
    """The client's id when it is sane and not shaped like a key (it reaches every log line)."""
    if incoming and _SANE_ID.fullmatch(incoming) and not looks_secret(incoming):
        return incoming
    return new_request_id()
