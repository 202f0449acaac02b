"""Listeners told of each change, for storage collections and the provider registry alike."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Listeners(Generic[T]):
    """Callbacks told of each change: one that raises is logged, and the others are still told."""

    __slots__ = ("_calls", "_logger", "_what")

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._calls: list[Callable[[T], None]] = []
        self._logger = logger
        self._what = what
        """Names the listeners in the log line of one that failed."""

    def subscribe(self, listener: Callable[[T], None]) -> Callable[[], None]:
        """Call ``listener`` on every change; returns the unsubscribe function."""
        self._calls.append(listener)
        return lambda: self._calls.remove(listener)

    def emit(self, change: T) -> None:
        for listener in list(self._calls):  # a listener may unsubscribe while told
            try:
                listener(change)
            except Exception:
                self._logger.exception("%s failed", self._what)
