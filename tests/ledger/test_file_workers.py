"""Worker processes share one ledger file: each flush adds to what the others wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.ledger.file import FileLedger
from gateway.ledger.record import window
from tests.ledger.test_crash import record


async def test_two_workers_add_up_in_one_file(tmp_path: Path) -> None:
    first, second = (FileLedger(tmp_path, 100, 60) for _ in range(2))
    for ledger in (first, second):
        ledger.load()
    for n in range(30):
        (first if n % 3 else second).add([record(n)])
        if n % 7 == 0:
            first.flush_sync()
            second.flush_sync()
    first.flush_sync()
    second.flush_sync()

    reader = FileLedger(tmp_path, 100, 60)
    reader.load()
    rows = await reader.rows("2000-01-01", "2100-01-01")
    assert sum(counters[0] for counters in rows.values()) == 30
    assert sum(counters[6] for counters in rows.values()) == 30 * 4_500_000
    page = await reader.logs(100, None, None, None)
    assert sorted(entry["request_id"] for entry in page.entries) == sorted(
        f"req-{n}" for n in range(30)
    )
    when = window("total", 0)
    (spent,) = await reader.spend(["key_0"], [when])
    assert spent.requests == len([n for n in range(30) if n % 7 == 0])
    # A worker's flush reads the others' counts back: from then on it sees everything.
    second.add([record(30)])
    second.flush_sync()
    seen = await second.rows("2000-01-01", "2100-01-01")
    assert sum(counters[0] for counters in seen.values()) == 31


async def test_the_log_keeps_the_newest_entries_with_their_seqs(tmp_path: Path) -> None:
    """A full log drops its oldest entry per new one, flushed or not, and seqs never repeat."""
    ledger = FileLedger(tmp_path, 3, 60)
    ledger.load()

    async def shown(one: FileLedger) -> list[tuple[str, str]]:
        page = await one.logs(10, None, None, None)
        return [(entry["request_id"], entry["id"].rpartition("-")[2]) for entry in page.entries]

    for n in range(5):
        ledger.add([record(n)])
    assert await shown(ledger) == [("req-4", "5"), ("req-3", "4"), ("req-2", "3")]
    ledger.flush_sync()
    for n in range(5, 7):
        ledger.add([record(n)])
    expected = [("req-6", "7"), ("req-5", "6"), ("req-4", "5")]
    assert (await shown(ledger))[:3] == expected  # the file's older entries follow until a flush
    ledger.flush_sync()
    assert await shown(ledger) == expected
    reloaded = FileLedger(tmp_path, 3, 60)
    reloaded.load()
    assert await shown(reloaded) == expected


async def test_a_failed_flush_keeps_every_entry_for_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush that cannot write (a full disk) gives its entries back, seqs and order intact."""
    ledger = FileLedger(tmp_path, 5, 60)
    ledger.load()
    for n in range(3):
        ledger.add([record(n)])
    ledger.flush_sync()

    def full_disk(path: Path, payload: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr("gateway.ledger.file.write_atomically", full_disk)
        for n in range(3, 6):
            ledger.add([record(n)])
        with pytest.raises(OSError):
            ledger.flush_sync()
    for n in range(6, 9):  # added after the failure: the log keeps the newest 5
        ledger.add([record(n)])
    ledger.flush_sync()

    reloaded = FileLedger(tmp_path, 5, 60)
    reloaded.load()
    page = await reloaded.logs(10, None, None, None)
    shown = [(entry["request_id"], entry["id"].rpartition("-")[2]) for entry in page.entries]
    assert shown == [(f"req-{n}", str(n + 1)) for n in range(8, 3, -1)]
    rows = await reloaded.rows("2000-01-01", "2100-01-01")
    assert sum(counters[0] for counters in rows.values()) == 9
