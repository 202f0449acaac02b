"""Typed application state shared by the app factory, middlewares and handlers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from gateway.settings import Settings
from gateway.storage.base import Storage


@dataclass(slots=True)
class Lifecycle:
    """What /api/v1/health reports about the process itself."""

    started_at: float
    draining: asyncio.Event = field(default_factory=asyncio.Event)


SETTINGS = web.AppKey("settings", Settings)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
STORAGE = web.AppKey("storage", Storage)

REQUEST_ID = web.RequestKey("request_id", str)
