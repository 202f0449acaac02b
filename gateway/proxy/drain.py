"""Chat calls known to the shutdown drain, so it can end them in time (Lifecycle.cut).

A call still running when the drain time is up is cancelled; the proxy turns
that cancellation into a ``server_shutting_down`` answer instead of a dropped one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from gateway.errors import ServiceUnavailable
from gateway.state import LIFECYCLE, Lifecycle


def in_flight(request: web.Request) -> tuple[Lifecycle, asyncio.Task[Any]]:
    """Make the call known to the drain; the caller discards the task from ``in_flight``
    in a ``finally`` (cheaper than a context manager on every request)."""
    lifecycle = request.app[LIFECYCLE]
    task = asyncio.current_task()
    assert task is not None
    lifecycle.in_flight.add(task)
    return lifecycle, task


def cut_by_shutdown(lifecycle: Lifecycle) -> bool:
    """Whether a cancellation is the drain's cut (then swallowed: the call answers)."""
    if not lifecycle.cutting:
        return False  # the client went away
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
    return True


def shutting_down() -> ServiceUnavailable:
    """What a call still running when the drain time is up ends with."""
    return ServiceUnavailable(
        "The gateway is shutting down; the answer was cut short. Send the request again.",
        code="server_shutting_down",
    )
