"""What every ledger backend offers: take entries on the hot path, answer queries later."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.ledger.aggregates import Rows
from gateway.ledger.record import Entry, Window


@dataclass(slots=True)
class Spend:
    """One key's use within one budget window."""

    cost: int = 0
    """pico-USD (requests of unknown price add nothing)."""
    tokens: int = 0
    requests: int = 0

    def add(self, cost: int, tokens: int, requests: int) -> None:
        self.cost += cost
        self.tokens += tokens
        self.requests += requests


@dataclass(frozen=True, slots=True)
class LogPage:
    entries: list[dict[str, Any]]
    """Newest first, as ``UsageRecord.as_json`` shows them."""


def log_matches(entry: dict[str, Any], key_id: str | None, status: str | None) -> bool:
    """The ``key_id`` and ``status`` filters of GET /api/v1/usage/logs.

    ``status``: ``ok`` (below 400), ``error`` (400 and up) or one exact code.
    """
    if key_id is not None and entry.get("key_id") != key_id:
        return False
    if status is None:
        return True
    code = entry.get("status", 0)
    if status == "ok":
        return bool(code < 400)
    if status == "error":
        return bool(code >= 400)
    return str(code) == status


def cursor_key(cursor: str) -> tuple[int, int]:
    """A log cursor (``<ms>-<seq>``, as Redis stream ids) as a sortable pair."""
    ms, _, seq = cursor.partition("-")
    return int(ms), int(seq or 0)


class LedgerStore(Protocol):
    """A backend: ``add`` is called on the event loop per request and must not block."""

    async def open(self) -> None: ...

    async def close(self) -> None:
        """Write whatever is still pending."""

    def add(self, entries: Sequence[Entry]) -> None:
        """Count a batch of entries (oldest first)."""

    async def rows(self, first_day: str, last_day: str) -> Rows:
        """Aggregate rows of these days (inclusive)."""

    async def logs(
        self, limit: int, before: str | None, key_id: str | None, status: str | None
    ) -> LogPage: ...

    async def spend(self, key_ids: Sequence[str], windows: Sequence[Window]) -> list[Spend]:
        """Each key's use within the window at the same position."""

    async def last_used(self, key_ids: Sequence[str]) -> dict[str, float]:
        """Unix time of each key's last metered request (absent: never used)."""
