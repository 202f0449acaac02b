"""create_app(settings): services, the middleware chain, routes and background tasks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.metrics import METRICS, Metrics
from gateway.middleware import build_chain
from gateway.middleware.security_headers import response_stamper
from gateway.providers import registry
from gateway.routes import health, metrics, openapi, providers, templates, ui
from gateway.routes.table import ROUTES
from gateway.settings import Settings
from gateway.state import LIFECYCLE, SETTINGS, STORAGE, Lifecycle
from gateway.storage.factory import create_storage


def create_app(settings: Settings) -> web.Application:
    """Build the whole application from one settings object."""
    limits = settings.body_limits
    app = web.Application(
        middlewares=build_chain(settings),
        client_max_size=max(limits.chat_bytes, limits.admin_bytes, limits.default_bytes),
        handler_args={"max_field_size": 16 * 1024},
    )
    app[SETTINGS] = settings
    app[LIFECYCLE] = Lifecycle(started_at=time.monotonic())
    app[ROUTES] = {}
    app[STORAGE] = create_storage(settings)
    app[METRICS] = Metrics(settings.metrics)
    app.on_response_prepare.append(response_stamper(settings))
    app.cleanup_ctx.append(_storage_context)

    registry.setup(app)
    health.setup(app)
    providers.setup(app)
    templates.setup(app)
    openapi.setup(app)
    metrics.setup(app)
    ui.setup(app)
    return app


async def _storage_context(app: web.Application) -> AsyncIterator[None]:
    """Open the store before serving; close it after the last request."""
    storage = app[STORAGE]
    await storage.open()
    yield
    await storage.close()
