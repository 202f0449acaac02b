"""File backend of the ledger: counted in memory, flushed atomically every few seconds.

Everything lives in ``<storage.path>/usage/ledger.json``: the aggregate rows,
the last ``usage.log_entries`` log entries and each key's last use. A flush
(every ``usage.flush_interval_s``, and at shutdown) takes the entries counted
since the last one and, under an exclusive ``flock``, adds them to what the
file holds (re-read when another worker process wrote it) and replaces the
file atomically (temporary file, fsync, rename). So a crash loses at most the
last interval's entries and never leaves a half-written file.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from gateway.ledger.aggregates import COST, Rows, add_into, add_record, merge
from gateway.ledger.record import UsageRecord, Window
from gateway.ledger.store import LogPage, Spend, cursor_key, log_matches
from gateway.storage.file import file_stamp, locked, write_atomically
from gateway.tasks import cancel_and_wait

logger = logging.getLogger("gateway.ledger.file")

FILE_NAME = "ledger.json"
VERSION = 1


class CorruptLedger(ValueError):
    """The ledger file cannot be read back."""


Log = list[bytes]
"""Log entries, oldest first, each one ``UsageRecord.row()`` as JSON."""


def read_ledger(path: Path) -> tuple[Rows, Log, dict[str, float]]:
    """Rows, log entries and last uses from a ledger file; empty when absent."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, [], {}
    try:
        data = orjson.loads(raw)
        rows: Rows = {tuple(item[:4]): list(item[4:]) for item in data["rows"]}
        log = [orjson.dumps(entry) for entry in data["log"]]
        last_used = {str(k): float(v) for k, v in data["last_used"].items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CorruptLedger(f"{path}: {exc}") from None
    return rows, log, last_used


def encode_ledger(rows: Rows, log: Sequence[bytes], last_used: dict[str, float]) -> bytes:
    """The file's bytes; log entries are spliced in as they are (encoded once each)."""
    head = orjson.dumps(
        {
            "version": VERSION,
            "rows": [[*key, *counters] for key, counters in rows.items()],
            "last_used": last_used,
        }
    )
    return head[:-1] + b',"log":[' + b",".join(log) + b"]}"


def _sum(row: list[int], counters: list[int]) -> list[int]:
    """A new list: the file's row plus the flushed counters (the old row stays as it was)."""
    return [a + b for a, b in zip(row, counters, strict=True)]


class FileLedger:
    """The ledger of one process, shared with other workers through one file."""

    def __init__(self, folder: Path, log_entries: int, flush_interval_s: float) -> None:
        self.folder = folder
        self.path = folder / FILE_NAME
        self._lock_path = folder / f".{FILE_NAME}.lock"
        self.log_entries = log_entries
        self.flush_interval_s = flush_interval_s
        self._base: Rows = {}
        self._base_log: Log = []
        self._last_used: dict[str, float] = {}
        self._pending: Rows = {}
        self._pending_log: list[UsageRecord] = []
        self._flushing: Rows = {}
        self._flushing_log: list[UsageRecord] = []
        self._flushing_last_used: dict[str, float] = {}
        self._by_key_day: dict[str, dict[str, list[int]]] = {}
        """key id -> day -> [cost, tokens, requests] of the file's rows: budgets read it."""
        self._stamp: tuple[int, int, int] | None = None
        self._seq = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # lifecycle -----------------------------------------------------------------

    async def open(self) -> None:
        await asyncio.to_thread(self.load)
        self._task = asyncio.create_task(self._flush_forever(), name="ledger-flush")

    def load(self) -> None:
        """Read the file (and remove temporary files a killed flush left behind)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with locked(self._lock_path):
            for stale in self.folder.glob(f".{FILE_NAME}.*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
            try:
                rows, log, last_used = read_ledger(self.path)
            except CorruptLedger as exc:
                aside = self.path.with_name(f"{FILE_NAME}.corrupt-{int(time.time())}")
                logger.error(
                    "usage ledger unreadable (%s); moved to %s, starting empty", exc, aside
                )
                os.replace(self.path, aside)
                rows, log, last_used = {}, [], {}
            self._adopt(rows, log, last_used)

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self.flush()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await self.flush()
            except Exception:  # a full disk, another process's unreadable file: keep counting
                logger.exception("usage ledger flush failed; retrying next interval")

    # hot path ------------------------------------------------------------------

    def add(self, record: UsageRecord) -> None:
        """Count one entry in memory; written at the next flush."""
        record.seq = next(self._seq)
        add_record(self._pending, record)
        if self.log_entries:
            self._pending_log.append(record)
            if len(self._pending_log) > self.log_entries:
                del self._pending_log[: -self.log_entries]
        self._last_used[record.key_id] = record.time

    # flushing ------------------------------------------------------------------

    async def flush(self) -> None:
        """Write what was counted since the last flush (one flush at a time)."""
        async with self._lock:
            if not self._pending and not self._pending_log:
                return
            self._take()
            try:
                result = await asyncio.to_thread(self._write)
            except BaseException:
                self._give_back()
                raise
            self._adopt_written(*result)

    def flush_sync(self) -> None:
        """``flush`` without an event loop (tests, and the crash test's writer)."""
        if not self._pending and not self._pending_log:
            return
        self._take()
        try:
            result = self._write()
        except BaseException:
            self._give_back()
            raise
        self._adopt_written(*result)

    def _take(self) -> None:
        """On the loop: hand what was counted to the flush (which may run in a thread)."""
        self._flushing, self._pending = self._pending, {}
        self._flushing_log, self._pending_log = self._pending_log, []
        self._flushing_last_used = dict(self._last_used)

    def _give_back(self) -> None:
        self._pending = merge(self._flushing, self._pending)
        self._pending_log = self._flushing_log + self._pending_log
        self._flushing, self._flushing_log = {}, []

    def _write(self) -> tuple[Rows, Log, dict[str, float], bool]:
        """Add the entries being flushed to the file's content and replace the file.

        Only the new entries are encoded and only their rows added up (the rest of
        the rows and log are copied as they are); the last item: the file was re-read.
        """
        with locked(self._lock_path):
            reread = file_stamp(self.path) != self._stamp  # another worker wrote since
            if reread:
                rows, log, last_used = read_ledger(self.path)
            else:
                rows, log, last_used = dict(self._base), self._base_log, {}
            for key, counters in self._flushing.items():
                row = rows.get(key)
                rows[key] = list(counters) if row is None else _sum(row, counters)
            new = [orjson.dumps(record.row()) for record in self._flushing_log]
            keep = self.log_entries - len(new)
            log = (log[-keep:] if keep > 0 else []) + new[-self.log_entries :]
            if not self.log_entries:
                log = []
            for key_id, when in self._flushing_last_used.items():
                if when > last_used.get(key_id, 0.0):
                    last_used[key_id] = when
            write_atomically(self.path, encode_ledger(rows, log, last_used))
            self._stamp = file_stamp(self.path)
            return rows, log, last_used, reread

    def _adopt_written(
        self, rows: Rows, log: Log, last_used: dict[str, float], reread: bool
    ) -> None:
        self._adopt(rows, log, last_used, None if reread else self._flushing)

    def _adopt(
        self, rows: Rows, log: Log, last_used: dict[str, float], added: Rows | None = None
    ) -> None:
        """Take the file's content as the base; ``added``: only these rows are new in it."""
        self._base = rows
        self._base_log = log
        for key_id, when in last_used.items():
            if when > self._last_used.get(key_id, 0.0):
                self._last_used[key_id] = when
        self._flushing, self._flushing_log = {}, []
        if self._stamp is None:
            self._stamp = file_stamp(self.path)
        if added is None:
            self._by_key_day = {}
            added = rows
        by_key_day = self._by_key_day
        for (day, key_id, _provider, _model), counters in added.items():
            spent = by_key_day.setdefault(key_id, {}).setdefault(day, [0, 0, 0])
            spent[0] += counters[COST]
            spent[1] += counters[2] + counters[3]
            spent[2] += counters[0]

    # queries -------------------------------------------------------------------

    def _all_rows(self) -> list[Rows]:
        return [self._base, self._flushing, self._pending]

    async def rows(self, first_day: str, last_day: str) -> Rows:
        out: Rows = {}
        for part in self._all_rows():
            for key, counters in part.items():
                if first_day <= key[0] <= last_day:
                    add_into(out, key, counters)
        return out

    async def logs(
        self, limit: int, before: str | None, key_id: str | None, status: str | None
    ) -> LogPage:
        bound = cursor_key(before) if before else None
        found: list[dict[str, Any]] = []
        stored = (UsageRecord.from_row(orjson.loads(line)) for line in reversed(self._base_log))
        recent = reversed([*self._flushing_log, *self._pending_log])
        for record in itertools.chain(recent, stored):
            if bound is not None and (int(record.time * 1000), record.seq) >= bound:
                continue
            entry = record.as_json(record.cursor)
            if log_matches(entry, key_id, status):
                found.append(entry)
                if len(found) >= limit:
                    break
        return LogPage(found)

    async def spend(self, key_ids: Sequence[str], windows: Sequence[Window]) -> list[Spend]:
        return [self.spend_now(k, w) for k, w in zip(key_ids, windows, strict=True)]

    def spend_now(self, key_id: str, win: Window) -> Spend:
        """One key's use in one window, from memory (the file's rows, then what is unwritten)."""
        out = Spend()
        for day, (cost, tokens, requests) in self._by_key_day.get(key_id, {}).items():
            if win.covers(day):
                out.add(cost, tokens, requests)
        for part in (self._flushing, self._pending):  # a few seconds' worth of groups
            for (day, row_key, _provider, _model), counters in part.items():
                if row_key == key_id and win.covers(day):
                    out.add(counters[COST], counters[2] + counters[3], counters[0])
        return out

    async def last_used(self, key_ids: Sequence[str]) -> dict[str, float]:
        return {k: self._last_used[k] for k in key_ids if k in self._last_used}
