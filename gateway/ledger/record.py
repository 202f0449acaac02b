"""One request's ledger entry, and the UTC calendar the ledger counts in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from gateway.ledger.pricing import usd

Period = Literal["day", "month", "total"]
PERIODS: tuple[Period, ...] = ("day", "month", "total")
UNKNOWN = ""
"""Provider or model of a request that never reached a provider (stored as "", shown as null)."""


Entry = tuple[
    float, str, str, str, str, str, str, int, bool, int, int, int, int, int | None, float,
    float | None, int,
]  # fmt: skip
"""One request as the hot path hands it to a backend: UsageRecord's fields up to ``attempts``.

A plain tuple: built without a constructor call, and the garbage collector stops
tracking it (it holds only strings and numbers) while it waits for the flush.
"""
# Positions in an Entry (Final: mypy knows each item's type).
AT_TIME: Final = 0
AT_DAY: Final = 1
AT_KEY_ID: Final = 3
AT_PROVIDER: Final = 4
AT_MODEL: Final = 5
AT_STATUS: Final = 7
AT_PROMPT: Final = 9
AT_COMPLETION: Final = 10
AT_CACHED: Final = 11
AT_REASONING: Final = 12
AT_COST: Final = 13


@dataclass(slots=True)
class UsageRecord:
    """What one request on a metered route used: counts and timings, never content.

    The form queries and the sink read; the request path builds an Entry instead.
    """

    time: float
    """Unix seconds when the answer was over."""
    day: str
    """``time``'s UTC day, YYYY-MM-DD."""
    request_id: str
    key_id: str
    """The gateway key's id, ``admin`` or ``anonymous``."""
    provider: str
    model: str
    route: str
    status: int
    streamed: bool
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost: int | None
    """pico-USD; None when the model has no known price."""
    latency_ms: float
    ttft_ms: float | None
    attempts: int
    seq: int = 0
    """Given by the file backend: with the time in ms, this entry's place in the log."""

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cursor(self) -> str:
        """Where this entry sits in the file backend's log (``<ms>-<seq>``, as stream ids)."""
        return f"{int(self.time * 1000)}-{self.seq}"

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> UsageRecord:
        """From an Entry followed by its seq, or the JSON array the backends store."""
        return cls(*row)

    def as_json(self, cursor: str | None = None) -> dict[str, Any]:
        """The entry as the log API and the JSON-lines sink show it (``id`` when ``cursor``)."""
        entry: dict[str, Any] = {} if cursor is None else {"id": cursor}
        entry.update(
            time=iso(self.time),
            request_id=self.request_id,
            key_id=self.key_id,
            provider=self.provider or None,
            model=self.model or None,
            route=self.route,
            status=self.status,
            streamed=self.streamed,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cached_tokens=self.cached_tokens,
            reasoning_tokens=self.reasoning_tokens,
            cost_usd=usd(self.cost) if self.cost is not None else None,
            latency_ms=round(self.latency_ms, 3),
            ttft_ms=round(self.ttft_ms, 3) if self.ttft_ms is not None else None,
            attempts=self.attempts,
        )
        return entry


_second_cache: dict[int, str] = {}


def iso(unix: float) -> str:
    """UTC ISO 8601 with milliseconds and a ``Z`` (the seconds part remembered: sink path)."""
    second = int(unix // 1)
    head = _second_cache.get(second)
    if head is None:
        head = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        if len(_second_cache) > 100:
            _second_cache.clear()
        _second_cache[second] = head
    return f"{head}.{int((unix - second) * 1000):03d}Z"


_day_cache: dict[int, str] = {}


def day_of(unix: float) -> str:
    """The UTC day ``YYYY-MM-DD`` (remembered per day number: called per request)."""
    number = int(unix // 86400)
    day = _day_cache.get(number)
    if day is None:
        day = datetime.fromtimestamp(number * 86400, UTC).strftime("%Y-%m-%d")
        if len(_day_cache) > 1000:
            _day_cache.clear()
        _day_cache[number] = day
    return day


@dataclass(frozen=True, slots=True)
class Window:
    """The current budget period: its id, the days it covers and when it resets."""

    period: Period
    id: str
    """``YYYY-MM-DD``, ``YYYY-MM`` or ``total``."""
    start: float | None
    resets_at: float | None
    """None for ``total``: it never resets."""

    def covers(self, day: str) -> bool:
        return self.period == "total" or day.startswith(self.id)


def window(period: Period, now: float) -> Window:
    """The period of kind ``period`` that contains ``now`` (UTC calendar)."""
    moment = datetime.fromtimestamp(now, UTC)
    if period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=1)
        return Window(period, start.strftime("%Y-%m-%d"), start.timestamp(), end.timestamp())
    if period == "month":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
        return Window(period, start.strftime("%Y-%m"), start.timestamp(), end.timestamp())
    return Window(period, "total", None, None)
