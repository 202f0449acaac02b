"""Observations kept as plain numbers and written into prometheus-client once per loop turn.

Every ``Counter.inc`` and ``Histogram.observe`` takes a lock and several Python
calls (``observe`` also walks the buckets), and a chat request makes a dozen.
A tally adds into plain numbers and a bucket found by ``bisect``; the first
tally touched in an event-loop turn schedules ``Tallies.flush`` with
``call_soon`` (it runs after the callbacks already ready), which adds each
tally's totals to its prometheus values at once, so the more requests share a
turn, the less each costs. The values are the ones ``inc`` and ``observe``
update, so with ``--workers`` they still write the files every worker's
/metrics reads. Only call tallies from the event-loop thread.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left

from prometheus_client import Counter, Histogram


class Tallies:
    """The tallies holding observations not yet written into their prometheus children."""

    __slots__ = ("_queued",)

    def __init__(self) -> None:
        self._queued: list[CounterTally | HistogramTally] = []

    def queue(self, tally: CounterTally | HistogramTally) -> None:
        """``tally`` has its first observation since it was last written."""
        self._queued.append(tally)
        if len(self._queued) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (a script or a thread): write at once
                self.flush()

    def flush(self) -> None:
        """Write every pending observation (at the end of a loop turn, and before a scrape)."""
        queued, self._queued = self._queued, []
        for tally in queued:
            tally.flush()


class CounterTally:
    """Increments of one counter child."""

    __slots__ = ("_tallies", "_value", "amount")

    def __init__(self, tallies: Tallies, counter: Counter) -> None:
        self._tallies = tallies
        self._value = counter._value  # what ``Counter.inc`` adds to, past its checks
        self.amount = 0.0

    def inc(self, amount: float) -> None:
        """``amount`` must be positive (a counter refuses negative increments)."""
        queue = not self.amount
        self.amount += amount
        if queue:  # after adding: without a loop, queueing writes at once
            self._tallies.queue(self)

    def flush(self) -> None:
        self._value.inc(self.amount)
        self.amount = 0.0


class HistogramTally:
    """Observations of one histogram child, and optionally a counter child counting them.

    prometheus-client adds observations only one at a time, so the flush adds to
    the values ``Histogram.observe`` updates: the sum, and one value per bucket.
    """

    __slots__ = ("_bounds", "_buckets", "_count", "_sum", "_tallies", "count", "hits", "total")

    def __init__(
        self, tallies: Tallies, histogram: Histogram, counter: Counter | None = None
    ) -> None:
        self._tallies = tallies
        self._bounds = histogram._upper_bounds  # ends with +Inf
        self._buckets = histogram._buckets
        self._sum = histogram._sum
        self._count = counter._value if counter is not None else None
        self.count = 0
        self.total = 0.0
        self.hits: dict[int, int] = {}  # bucket index -> observations

    def observe(self, value: float) -> None:
        """As ``Histogram.observe``: the first bucket whose upper bound is >= ``value``."""
        self.count += 1
        self.total += value
        bucket = bisect_left(self._bounds, value)
        self.hits[bucket] = self.hits.get(bucket, 0) + 1
        if self.count == 1:  # after adding: without a loop, queueing writes at once
            self._tallies.queue(self)

    def flush(self) -> None:
        if self._count is not None:
            self._count.inc(self.count)
        self._sum.inc(self.total)
        for bucket, hits in self.hits.items():
            self._buckets[bucket].inc(hits)
        self.hits.clear()
        self.count = 0
        self.total = 0.0
