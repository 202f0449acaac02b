"""A SIGKILL while the file ledger flushes never leaves a corrupt or half-counted file.

A forked child adds entries and flushes in a tight loop (each flush rewrites a
file of ~2000 log entries); the parent kills it at a random moment, 50 times.
Every time, the file reads back and holds whole flushes only; some kills land
mid-flush (a temporary file is left behind, and cleaned up on the next load).
"""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import astuple
from pathlib import Path

from gateway.ledger.file import FILE_NAME, FileLedger, read_ledger
from gateway.ledger.record import Entry, UsageRecord, day_of

BATCH = 200
LOG_ENTRIES = 2000


def entry_of(record: UsageRecord) -> Entry:
    """The Entry a backend is handed for ``record`` (its fields but ``seq``)."""
    fields: Entry = astuple(record)[:-1]
    return fields


def record(n: int) -> Entry:
    """Entry ``n``: UsageRecord's fields in order, built as the hot path builds them (fast)."""
    ended = 1_790_000_000.0 + n
    return (
        ended,
        day_of(ended),
        f"req-{n}",
        f"key_{n % 7}",
        "oa",
        "gpt-4o-mini",
        "/v1/chat/completions",
        200,
        bool(n % 2),
        10,  # prompt tokens
        5,  # completion tokens
        0,  # cached tokens
        0,  # reasoning tokens
        4_500_000,  # cost
        1.5,  # latency (ms)
        None,  # time to first token
        1,  # attempts
    )


def flush_forever(folder: Path) -> None:
    """The child: load, then add a batch and flush, until killed."""
    ledger = FileLedger(folder, LOG_ENTRIES, flush_interval_s=60)
    ledger.load()
    n = 0
    while True:
        for _ in range(BATCH):
            ledger.add([record(n)])
            n += 1
        ledger.flush_sync()


def test_sigkill_during_flushes_never_corrupts_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "usage"
    mid_flush = 0
    previous = 0
    rng = random.Random(18)
    for _ in range(50):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                flush_forever(folder)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.002, 0.03))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if list(folder.glob(f".{FILE_NAME}.*.tmp")):
            mid_flush += 1
        rows, log, _ = read_ledger(folder / FILE_NAME)  # raises when corrupt
        requests = sum(counters[0] for counters in rows.values())
        assert requests % BATCH == 0 and requests >= previous  # whole flushes, none undone
        assert len(log) == min(requests, LOG_ENTRIES)
        assert sum(counters[6] for counters in rows.values()) == requests * 4_500_000
        previous = requests
    assert previous > 0, "no flush ever completed"
    assert mid_flush > 0, "no kill landed during a flush"
    FileLedger(folder, LOG_ENTRIES, 60).load()
    assert not list(folder.glob(f".{FILE_NAME}.*.tmp"))  # the next start cleans up
