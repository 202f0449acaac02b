"""Redis backend of the ledger: shared by every instance, written off the response path.

``add`` only counts into memory; as soon as the loop is free one pipeline adds
the counts since the last write (HINCRBY, so instances add up exactly) and
appends the log entries to a capped stream:

- ``gw:usage:rows:<day>``: hash ``<key>\\x1f<provider>\\x1f<model>\\x1f<counter>`` -> int
- ``gw:usage:spend:<key>:<window>``: hash ``cost``/``tokens``/``requests`` per budget
  window (``YYYY-MM-DD``, ``YYYY-MM``, ``total``), read by budget checks
- ``gw:usage:last_used``: hash key id -> unix time
- ``gw:usage:log``: stream (MAXLEN ~ ``usage.log_entries``), one ``e`` field holding
  the Entry and a seq of 0 as one JSON array (the stream id is the entry's cursor)

Until a write is confirmed its counts are added to what Redis answers, so this
instance's budget checks never miss its own requests. When Redis cannot be
reached, counts wait in memory (the log keeps its newest entries) and the
write is retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import orjson

from gateway.cluster.client import UNREACHABLE, Redis, bounded
from gateway.ledger.aggregates import COUNTERS, Rows, add_entry, merge
from gateway.ledger.record import (
    AT_COMPLETION,
    AT_COST,
    AT_DAY,
    AT_KEY_ID,
    AT_PROMPT,
    AT_TIME,
    Entry,
    UsageRecord,
    Window,
)
from gateway.ledger.store import LogPage, Spend, log_matches
from gateway.storage.base import StorageUnavailable

logger = logging.getLogger("gateway.ledger.redis")

PREFIX = "gw:usage:"
ROWS = PREFIX + "rows:"
SPEND = PREFIX + "spend:"
LAST_USED = PREFIX + "last_used"
LOG = PREFIX + "log"
SEP = "\x1f"
WRITE_DELAY_S = 0.0
"""Write as soon as the loop is free: requests finishing meanwhile share the pipeline."""
RETRY_MAX_S = 5.0
ROWS_TTL_S = 400 * 86400
WINDOW_TTL_S = {"day": 3 * 86400, "month": 40 * 86400}
MAX_DAYS = 400
"""A usage query spans at most this many days."""
LOG_BATCH = 200
READS_PAUSE_S = 1.0
"""After Redis failed a budget read, budgets count locally this long (no request waits)."""
UNREACHABLE_MESSAGE = "The usage ledger's Redis cannot be reached; try again shortly."
K = TypeVar("K")
T = TypeVar("T")


def _count(store: dict[K, list[int]], key: K, cost: int, tokens: int) -> None:
    """One request into [cost, tokens, requests]."""
    counts = store.get(key)
    if counts is None:
        store[key] = [cost, tokens, 1]
    else:
        counts[0] += cost
        counts[1] += tokens
        counts[2] += 1


class RedisLedger:
    """The ledger kept in Redis for every instance."""

    def __init__(self, client: Redis, timeout_s: float, log_entries: int) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.log_entries = log_entries
        self._rows: Rows = {}
        self._spend: dict[tuple[str, str, str], list[int]] = {}
        """(key, window kind, window id) -> [cost, tokens, requests] not yet written."""
        self._unconfirmed: dict[tuple[str, str], list[int]] = {}
        """(key, window id) -> counts written nowhere yet, or in a write not yet confirmed."""
        self._log: list[Entry] = []
        """Entries not yet sent; encoded when written, off the request path."""
        self._last_used: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None
        self._retry_s = 0.0
        self._reads_paused_until = 0.0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        with contextlib.suppress(*UNREACHABLE):
            await self.write()

    # hot path ------------------------------------------------------------------

    def add(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            add_entry(self._rows, entry)
            day = entry[AT_DAY]
            key_id = entry[AT_KEY_ID]
            cost = entry[AT_COST] or 0
            tokens = entry[AT_PROMPT] + entry[AT_COMPLETION]
            for kind, window_id in (("day", day), ("month", day[:7]), ("total", "total")):
                _count(self._spend, (key_id, kind, window_id), cost, tokens)
                _count(self._unconfirmed, (key_id, window_id), cost, tokens)
            self._last_used[key_id] = entry[AT_TIME]
        if self.log_entries:
            self._log.extend(entries)
            if len(self._log) > self.log_entries:  # Redis away for long: keep the newest
                del self._log[: -self.log_entries]
        self._schedule(WRITE_DELAY_S)

    def _schedule(self, delay: float) -> None:
        if self._timer is None and (self._writing is None or self._writing.done()):
            self._timer = asyncio.get_running_loop().call_later(delay, self._start_write)

    def _start_write(self) -> None:
        self._timer = None
        self._writing = asyncio.get_running_loop().create_task(self._write_in_background())

    async def _write_in_background(self) -> None:
        try:
            await self.write()
            self._retry_s = 0.0
        except UNREACHABLE as exc:
            self._retry_s = min(max(self._retry_s * 2, 0.25), RETRY_MAX_S)
            logger.warning(
                "usage ledger: Redis unreachable (%s); retrying in %.2f s", exc, self._retry_s
            )
        except Exception:
            self._retry_s = RETRY_MAX_S
            logger.exception("usage ledger write failed")
        finally:
            self._writing = None
        if self._rows or self._log or self._spend:
            self._schedule(self._retry_s or WRITE_DELAY_S)

    # writing -------------------------------------------------------------------

    async def write(self) -> None:
        """Send everything counted so far in one pipeline; on failure it stays counted here."""
        rows, self._rows = self._rows, {}
        spend, self._spend = self._spend, {}
        log, self._log = self._log, []
        last_used, self._last_used = self._last_used, {}
        if not (rows or spend or log or last_used):
            return
        pipe = self.client.pipeline(transaction=False)
        days = set()
        for (day, key_id, provider, model), counters in rows.items():
            prefix = f"{key_id}{SEP}{provider}{SEP}{model}{SEP}"
            days.add(day)
            for index, value in enumerate(counters):
                if value:
                    pipe.hincrby(ROWS + day, prefix + str(index), value)
        for day in days:
            pipe.expire(ROWS + day, ROWS_TTL_S)
        for (key_id, kind, window_id), (cost, tokens, requests) in spend.items():
            name = f"{SPEND}{key_id}:{window_id}"
            pipe.hincrby(name, "cost", cost)
            pipe.hincrby(name, "tokens", tokens)
            pipe.hincrby(name, "requests", requests)
            if kind in WINDOW_TTL_S:
                pipe.expire(name, WINDOW_TTL_S[kind])
        if last_used:
            pipe.hset(LAST_USED, mapping={k: repr(v) for k, v in last_used.items()})
        for entry in log:
            pipe.xadd(
                LOG, {"e": orjson.dumps((*entry, 0))}, maxlen=self.log_entries, approximate=True
            )
        try:
            await bounded(pipe.execute(), self.timeout_s)
        except BaseException:
            self._rows = merge(rows, self._rows)
            for key, counts in spend.items():
                self._add_spend(key, counts)
            self._log = (log + self._log)[-self.log_entries :] if self.log_entries else []
            for key_id, when in last_used.items():
                self._last_used.setdefault(key_id, when)
            raise
        for (key_id, _kind, window_id), (cost, tokens, requests) in spend.items():
            left = self._unconfirmed.get((key_id, window_id))
            if left is not None:
                left[0] -= cost
                left[1] -= tokens
                left[2] -= requests
                if not any(left):
                    del self._unconfirmed[(key_id, window_id)]

    def _add_spend(self, key: tuple[str, str, str], counts: list[int]) -> None:
        mine = self._spend.get(key)
        if mine is None:
            self._spend[key] = list(counts)
        else:
            for index, value in enumerate(counts):
                mine[index] += value

    # queries -------------------------------------------------------------------

    async def rows(self, first_day: str, last_day: str) -> Rows:
        days = _days(first_day, last_day)
        pipe = self.client.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(ROWS + day)
        answers: list[dict[bytes, bytes]] = await self._read(pipe.execute())
        out: Rows = {}
        for day, fields in zip(days, answers, strict=True):
            for field, value in fields.items():
                key_id, provider, model, index = field.decode().split(SEP)
                row = out.get((day, key_id, provider, model))
                if row is None:
                    row = out[(day, key_id, provider, model)] = [0] * len(COUNTERS)
                row[int(index)] += int(value)
        return out

    async def logs(
        self, limit: int, before: str | None, key_id: str | None, status: str | None
    ) -> LogPage:
        found: list[dict[str, Any]] = []
        upper = f"({before}" if before else "+"
        while len(found) < limit:
            batch = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                await self._read(self.client.xrevrange(LOG, max=upper, min="-", count=LOG_BATCH)),
            )
            for stream_id, fields in batch:
                record = UsageRecord.from_row(orjson.loads(fields[b"e"]))
                entry = record.as_json(stream_id.decode())
                if log_matches(entry, key_id, status):
                    found.append(entry)
                    if len(found) >= limit:
                        break
            if len(batch) < LOG_BATCH:
                break
            upper = f"({batch[-1][0].decode()}"
        return LogPage(found)

    async def spend(self, key_ids: Sequence[str], windows: Sequence[Window]) -> list[Spend]:
        answers: list[list[bytes | None]] = [[None, None, None] for _ in key_ids]
        loop = asyncio.get_running_loop()
        if loop.time() >= self._reads_paused_until:
            pipe = self.client.pipeline(transaction=False)
            for key_id, win in zip(key_ids, windows, strict=True):
                pipe.hmget(f"{SPEND}{key_id}:{win.id}", ["cost", "tokens", "requests"])
            try:
                answers = await bounded(pipe.execute(), self.timeout_s)
            except UNREACHABLE:
                self._reads_paused_until = loop.time() + READS_PAUSE_S
                logger.warning("usage ledger: Redis unreachable; budgets count this instance only")
        out = []
        for key_id, win, values in zip(key_ids, windows, answers, strict=True):
            spent = Spend(*(int(v) if v is not None else 0 for v in values))
            local = self._unconfirmed.get((key_id, win.id))
            if local is not None:
                spent.add(*local)
            out.append(spent)
        return out

    async def last_used(self, key_ids: Sequence[str]) -> dict[str, float]:
        if not key_ids:
            return {}
        try:
            values = await bounded(self.client.hmget(LAST_USED, list(key_ids)), self.timeout_s)
        except UNREACHABLE:  # key views still answer, without last use
            return {}
        return {k: float(v) for k, v in zip(key_ids, values, strict=True) if v is not None}

    async def _read(self, call: Awaitable[T]) -> T:
        """One bounded read for the admin API: 503 storage_unavailable when Redis is away."""
        try:
            return await bounded(call, self.timeout_s)
        except UNREACHABLE:
            raise StorageUnavailable(UNREACHABLE_MESSAGE) from None


def _days(first_day: str, last_day: str) -> list[str]:
    start = datetime.strptime(first_day, "%Y-%m-%d").replace(tzinfo=UTC)
    end = datetime.strptime(last_day, "%Y-%m-%d").replace(tzinfo=UTC)
    count = min((end - start).days + 1, MAX_DAYS)
    return [(start + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(max(count, 0))]
