"""create_app(settings): services, the middleware chain, routes and background tasks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.middleware import build_chain
from gateway.middleware.security_headers import response_stamper
from gateway.proxy import ADAPTERS
from gateway.routes import chat, embeddings, health, models, openapi
from gateway.routes.table import ROUTES
from gateway.settings import Settings
from gateway.state import LIFECYCLE, SETTINGS, STORAGE, Lifecycle
from gateway.storage.factory import create_storage
from gateway.upstream import UPSTREAM, Upstream, upstream_context
from gateway.usage import USAGE_HOOKS


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
    app.on_response_prepare.append(response_stamper(settings))
    app.cleanup_ctx.append(_storage_context)
    # Chat: the upstream client, the wire-format adapters by name (openai, anthropic,
    # gemini) and the usage hooks (metrics, tpm). The router (ROUTER) is built on the
    # provider directory.
    app[UPSTREAM] = Upstream(settings.upstream)
    app[ADAPTERS] = {}
    app[USAGE_HOOKS] = []
    app.cleanup_ctx.append(upstream_context)

    health.setup(app)
    chat.setup(app)
    embeddings.setup(app)
    models.setup(app)
    openapi.setup(app)
    return app


async def _storage_context(app: web.Application) -> AsyncIterator[None]:
    """Open the store before serving; close it after the last request."""
    storage = app[STORAGE]
    await storage.open()
    yield
    await storage.close()
