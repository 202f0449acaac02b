"""The file backend's encoded log: entries intact through drops, moves and reuse."""

from __future__ import annotations

import tracemalloc

import orjson

from gateway.ledger.file import EncodedLog


def entries(first: int, count: int) -> list[bytes]:
    return [orjson.dumps([n, f"req-{n}", "x" * (n % 13)]) for n in range(first, first + count)]


def test_dropped_entries_are_reclaimed_in_place_and_the_kept_ones_stay_whole() -> None:
    log = EncodedLog()
    for first in range(0, 500, 7):  # batches of 7, as drains hand them over
        batch = entries(first, min(7, 500 - first))
        log.extend(batch)
        assert len(log) == min(first, 100) + len(batch)
        if len(log) > 100:
            log.keep(100)
    assert list(log.newest_first()) == entries(400, 100)[::-1]
    with log.tail(3) as tail:
        assert bytes(tail) == b",".join(entries(497, 3))
    # Capped at 100 entries, the buffer stays within a few times that (all 500: 5x).
    assert log.capacity < 4 * sum(len(e) + 1 for e in entries(400, 100))


def test_an_emptied_log_keeps_its_memory_and_another_is_copied_in_whole() -> None:
    """Flush after flush, the buffers are reused: nothing is allocated for the entries again."""
    batches = [[orjson.dumps([cycle, n, "x" * 1000]) for n in range(200)] for cycle in range(5)]
    pending, base = EncodedLog(), EncodedLog()

    def cycle(batch: list[bytes]) -> None:  # as the file backend does at every flush
        for first in range(0, len(batch), 10):  # drains of 10 entries (10 kB)
            pending.extend(batch[first : first + 10])
        base.keep(300 - len(pending))
        base.extend_log(pending)
        pending.clear()

    cycle(batches[0])
    cycle(batches[1])
    tracemalloc.start()
    try:
        for batch in batches[2:]:
            cycle(batch)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000  # one batch is 200 kB: none of it was allocated anew
    assert len(pending) == 0
    assert list(base.newest_first())[::-1] == batches[3][100:] + batches[4]
