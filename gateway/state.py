"""Typed application state shared by the app factory, middlewares and handlers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.settings import Settings
from gateway.storage.base import Storage


@dataclass(slots=True)
class Lifecycle:
    """What /api/v1/health reports about the process itself, and the drain's state."""

    started_at: float
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    cutting: bool = False
    """The drain time is up: chat calls still running are being ended."""
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
    """Tasks of the chat calls running now (proxy.complete and proxy.stream)."""

    def cut(self) -> None:
        """End every chat call still running: each answers ``server_shutting_down``."""
        self.cutting = True
        for task in list(self.in_flight):
            task.cancel()


SETTINGS = web.AppKey("settings", Settings)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
STORAGE = web.AppKey("storage", Storage)

REQUEST_ID = web.RequestKey("request_id", str)
