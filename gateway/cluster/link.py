"""RedisLink: whether this process's Redis is hanging, known to all its users (no redis import)."""

from __future__ import annotations


class RedisLink:
    """Set when a call to Redis timed out (a hung server), cleared when one gets through.

    While it is set, the store refuses writes at once and the limiter counts
    locally, so one request never waits out more than one ``redis_timeout_s``
    (a limiter check and a write each waiting their own would be two). A fast
    failure (connection refused, a stale pooled connection) does not set it:
    the next call may well succeed and costs little when it does not.
    """

    __slots__ = ("hung",)

    def __init__(self) -> None:
        self.hung = False

    def failed(self, timed_out: bool) -> None:
        if timed_out:
            self.hung = True

    def succeeded(self) -> None:
        self.hung = False
