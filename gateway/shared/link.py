"""RedisLink: one flag per process for "Redis is reachable", without importing redis."""

from __future__ import annotations


class RedisLink:
    """Whether this process can reach its Redis now, as every user of that Redis learns it.

    The first call that finds Redis unreachable marks the link down; until it is
    back, the store refuses writes at once and the limiter counts locally, so one
    request never waits out more than one ``redis_timeout_s``. A call that gets
    through (the store's reconnecting watcher, the limiter's retry) marks it up.
    """

    __slots__ = ("error", "up")

    def __init__(self) -> None:
        self.up = True
        self.error: str | None = None

    def down(self, reason: str) -> bool:
        """Mark it down; True when it was up (the caller logs the change)."""
        was_up, self.up, self.error = self.up, False, reason
        return was_up

    def restored(self) -> bool:
        """Mark it up; True when it was down."""
        was_down, self.up, self.error = not self.up, True, None
        return was_down
