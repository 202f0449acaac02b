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
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from gateway.ledger.aggregates import COST, Rows, add_entry, add_into, merge
from gateway.ledger.record import AT_KEY_ID, AT_TIME, Entry, UsageRecord, Window
from gateway.ledger.store import LogPage, Spend, cursor_key, log_matches
from gateway.storage.file import file_stamp, locked, write_atomically
from gateway.tasks import cancel_and_wait

logger = logging.getLogger("gateway.ledger.file")

FILE_NAME = "ledger.json"
VERSION = 1


class CorruptLedger(ValueError):
    """The ledger file cannot be read back."""


class EncodedLog:
    """Log entries encoded once, oldest first, back to back in one buffer (``,e0,e1,...``).

    Entries are encoded as the file holds them (seq included) when they are
    added, so a flush writes the kept and the new entries as two slices and
    touches no entry one by one. Neither the buffer nor the entries' bounds ever
    shrink: entries dropped off the front are reclaimed in place once they fill
    half the buffer, and an emptied log keeps its memory for the next entries.
    Handing megabytes back to the system and faulting them in again every flush
    cost more CPU than the entries' own code. Only the event loop changes it (a
    flush thread reads it while no one does).
    """

    __slots__ = ("_bounds", "_data", "_first", "_n", "_view")

    def __init__(self, entries: Sequence[bytes] = ()) -> None:
        self._data = bytearray()
        """The buffer; its first ``_bounds[_n - 1]`` bytes are in use."""
        self._view = memoryview(self._data)
        """Writes go through it (faster than the bytearray's own slices); released to grow."""
        self._bounds = array("q", [0])
        """Entry i is ``_data[_bounds[i] + 1 : _bounds[i + 1]]`` (after its comma); an array,
        so that no int object is kept per entry either. The first ``_n`` are in use."""
        self._n = 1
        self._first = 0
        """The oldest entry still kept."""
        self.extend(entries)

    def __len__(self) -> int:
        return self._n - 1 - self._first

    @property
    def capacity(self) -> int:
        """Bytes the buffer holds, in use or not."""
        return len(self._data)

    def tail(self, count: int) -> memoryview:
        """The newest ``count`` entries, comma-separated, as a view (release it after use)."""
        bounds, n = self._bounds, self._n
        if count <= 0 or n == 1:
            return memoryview(b"")
        start = bounds[max(self._first, n - 1 - count)]
        return memoryview(self._data)[start + 1 : bounds[n - 1]]

    def _add_bounds(self, stops: Iterable[int]) -> None:
        """Entries ending at ``stops`` follow: the bounds array is reused, grown if need be."""
        bounds, n = self._bounds, self._n
        for stop in stops:
            if n < len(bounds):
                bounds[n] = stop
            else:
                bounds.append(stop)
            n += 1
        self._n = n

    def _room(self, stop: int) -> memoryview:
        """A view of the buffer, grown to hold ``stop`` bytes (by half again: growth is rare)."""
        data = self._data
        if stop > len(data):
            self._view.release()
            data += bytes(max(stop, len(data) + len(data) // 2) - len(data))
            self._view = memoryview(data)
        return self._view

    def newest_first(self) -> Iterator[bytes]:
        data, bounds = self._data, self._bounds
        for index in range(self._n - 2, self._first - 1, -1):
            yield bytes(data[bounds[index] + 1 : bounds[index + 1]])

    def keep(self, count: int) -> None:
        """Drop all but the newest ``count`` entries."""
        bounds, n = self._bounds, self._n
        self._first = first = max(self._first, n - 1 - max(count, 0))
        start, end = bounds[first], bounds[n - 1]
        if start > end // 2:  # the kept entries move to the front, in place
            if end > start:
                self._view[: end - start] = self._view[start:end]
            for index in range(n - first):
                bounds[index] = bounds[first + index] - start
            self._n = n - first
            self._first = 0

    def clear(self) -> None:
        """Drop every entry; the buffer and the bounds keep their memory."""
        self._bounds[0] = 0
        self._n = 1
        self._first = 0

    def extend(self, entries: Sequence[bytes]) -> None:
        """Add entries after these (one copy of them, joined, on the way in)."""
        if not entries:
            return
        end = self._bounds[self._n - 1]
        joined = b",".join(entries)
        stop = end + 1 + len(joined)
        view = self._room(stop)
        view[end] = 44  # ","
        view[end + 1 : stop] = joined
        lengths = itertools.accumulate(1 + len(entry) for entry in entries)
        self._add_bounds(end + length for length in lengths)

    def extend_log(self, other: EncodedLog) -> None:
        """Add ``other``'s entries after these: one copy of its buffer, no entry encoded again."""
        if not other:
            return
        theirs = other._bounds
        start, stop = theirs[other._first], theirs[other._n - 1]
        end = self._bounds[self._n - 1]
        self._room(end + stop - start)[end : end + stop - start] = other._view[start:stop]
        shift = end - start
        self._add_bounds(theirs[index] + shift for index in range(other._first + 1, other._n))


def read_ledger(path: Path) -> tuple[Rows, list[bytes], dict[str, float]]:
    """Rows, log entries (each encoded, oldest first) and last uses; empty when absent."""
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


def ledger_head(rows: Rows, last_used: dict[str, float]) -> bytes:
    """The file's bytes up to its log entries (then come the entries, then ``]}``)."""
    head = orjson.dumps(
        {
            "version": VERSION,
            "rows": [[*key, *counters] for key, counters in rows.items()],
            "last_used": last_used,
        }
    )
    return head[:-1] + b',"log":['


class Written(NamedTuple):
    """What a flush wrote: the rows, and the log as ``log``'s newest ``keep`` then ``new``."""

    rows: Rows
    log: EncodedLog
    keep: int
    new: EncodedLog
    last_used: dict[str, float]
    reread: bool
    """The file was read back first (another worker had written it)."""


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
        self._base_log = EncodedLog()
        self._last_used: dict[str, float] = {}
        self._pending: Rows = {}
        self._pending_log = EncodedLog()
        """Entries encoded with their seq, in one buffer: no object per entry to keep."""
        self._flushing: Rows = {}
        self._flushing_log = EncodedLog()
        self._seqs = itertools.count(1)
        """Each log entry's seq, given as it is added: with its time, the entry's cursor."""
        self._flushing_last_used: dict[str, float] = {}
        self._by_key_day: dict[str, dict[str, list[int]]] = {}
        """key id -> day -> [cost, tokens, requests] of the file's rows: budgets read it."""
        self._stamp: tuple[int, int, int] | None = None
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
                rows, entries, last_used = read_ledger(self.path)
            except CorruptLedger as exc:
                aside = self.path.with_name(f"{FILE_NAME}.corrupt-{int(time.time())}")
                logger.error(
                    "usage ledger unreadable (%s); moved to %s, starting empty", exc, aside
                )
                os.replace(self.path, aside)
                rows, entries, last_used = {}, [], {}
            self._adopt(rows, EncodedLog(entries), last_used)

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

    def add(self, entries: Sequence[Entry]) -> None:
        """Count entries in memory, and encode each with its seq; written at the next flush."""
        pending, last_used = self._pending, self._last_used
        for entry in entries:
            add_entry(pending, entry)
            last_used[entry[AT_KEY_ID]] = entry[AT_TIME]
        if self.log_entries:
            log, seqs = self._pending_log, self._seqs
            # entry + (seq,): faster than (*entry, seq)
            log.extend([orjson.dumps(entry + (next(seqs),)) for entry in entries])  # noqa: RUF005
            if len(log) > self.log_entries:
                log.keep(self.log_entries)  # the oldest go, and with them their seqs

    # flushing ------------------------------------------------------------------

    async def flush(self) -> None:
        """Write what was counted since the last flush (one flush at a time)."""
        async with self._lock:
            if not self._pending and not self._pending_log:
                return
            self._take()
            try:
                written = await asyncio.to_thread(self._write)
            except BaseException:
                self._give_back()
                raise
            self._adopt_written(written)

    def flush_sync(self) -> None:
        """``flush`` without an event loop (tests, and the crash test's writer)."""
        if not self._pending and not self._pending_log:
            return
        self._take()
        try:
            written = self._write()
        except BaseException:
            self._give_back()
            raise
        self._adopt_written(written)

    def _take(self) -> None:
        """On the loop: hand what was counted to the flush (which may run in a thread)."""
        self._flushing, self._pending = self._pending, {}
        self._flushing_log, self._pending_log = self._pending_log, self._flushing_log  # empty
        self._flushing_last_used = dict(self._last_used)

    def _give_back(self) -> None:
        self._pending = merge(self._flushing, self._pending)
        kept, spare = self._flushing_log, self._pending_log
        kept.extend_log(spare)
        kept.keep(self.log_entries)
        spare.clear()
        self._pending_log, self._flushing_log = kept, spare
        self._flushing = {}

    def _write(self) -> Written:
        """Add the entries being flushed to the file's content and replace the file.

        Only the new entries' rows are added up (the rest of the rows is copied);
        the kept and the new log entries are written from where they are.
        """
        with locked(self._lock_path):
            reread = file_stamp(self.path) != self._stamp  # another worker wrote since
            if reread:
                rows, entries, last_used = read_ledger(self.path)
                log = EncodedLog(entries)
            else:
                rows, log, last_used = dict(self._base), self._base_log, {}
            for key, counters in self._flushing.items():
                row = rows.get(key)
                rows[key] = list(counters) if row is None else _sum(row, counters)
            new = self._flushing_log
            keep = self.log_entries - len(new)
            for key_id, when in self._flushing_last_used.items():
                if when > last_used.get(key_id, 0.0):
                    last_used[key_id] = when
            with log.tail(keep) as kept, new.tail(len(new)) as added:
                comma = b"," if kept and added else b""
                write_atomically(
                    self.path, [ledger_head(rows, last_used), kept, comma, added, b"]}"]
                )
            self._stamp = file_stamp(self.path)
            return Written(rows, log, keep, new, last_used, reread)

    def _adopt_written(self, written: Written) -> None:
        """On the loop: the flushed file's content becomes the base."""
        log = written.log
        log.keep(written.keep)
        log.extend_log(written.new)
        added = None if written.reread else self._flushing
        self._adopt(written.rows, log, written.last_used, added)

    def _adopt(
        self,
        rows: Rows,
        log: EncodedLog,
        last_used: dict[str, float],
        added: Rows | None = None,
    ) -> None:
        """Take the file's content as the base; ``added``: only these rows are new in it."""
        self._base = rows
        self._base_log = log
        for key_id, when in last_used.items():
            if when > self._last_used.get(key_id, 0.0):
                self._last_used[key_id] = when
        self._flushing = {}
        self._flushing_log.clear()  # copied into the base: empty, for the next flush
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
        stored = (UsageRecord.from_row(orjson.loads(e)) for e in self._base_log.newest_first())
        for record in itertools.chain(self._unwritten(), stored):
            if bound is not None and (int(record.time * 1000), record.seq) >= bound:
                continue
            entry = record.as_json(record.cursor)
            if log_matches(entry, key_id, status):
                found.append(entry)
                if len(found) >= limit:
                    break
        return LogPage(found)

    def _unwritten(self) -> Iterator[UsageRecord]:
        """The entries not in the file yet, newest first."""
        for log in (self._pending_log, self._flushing_log):
            for encoded in log.newest_first():
                yield UsageRecord.from_row(orjson.loads(encoded))

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
