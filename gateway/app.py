"""create_app(settings): services, the middleware chain, routes and background tasks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp import web

from gateway import services, stamps
from gateway.cluster.client import REDIS, redis_client, redis_context
from gateway.cluster.link import RedisLink
from gateway.cors import setup_cors
from gateway.endpoints import ROUTES
from gateway.keys import KEYS, KeyStore
from gateway.ledger import service as ledger
from gateway.limits import LIMITER, RATE_POLICY, RatePolicy, create_limiter
from gateway.logs import AccessLog
from gateway.metrics import METRICS, Metrics
from gateway.middleware import build_chain
from gateway.middleware.access_log import ACCESS_LOG
from gateway.middleware.auth import check_auth_config, warn_if_auth_off
from gateway.middleware.rate_limit import stamp_rate_limit_headers
from gateway.middleware.security_headers import response_stamper
from gateway.providers import registry
from gateway.routes import (
    chat,
    embeddings,
    health,
    keys,
    messages,
    metrics,
    models,
    openapi,
    provider_checks,
    providers,
    responses,
    templates,
    ui,
    usage,
)
from gateway.security.redaction import SECRETS, SecretRegistry
from gateway.settings import Settings
from gateway.stamps import RESPONSE_STAMPS
from gateway.state import LIFECYCLE, SETTINGS, STORAGE, Lifecycle
from gateway.storage.factory import create_storage


def create_app(settings: Settings, access_log: AccessLog | None = None) -> web.Application:
    """Build the whole application from one settings object.

    ``access_log`` is the writer ``configure_logging`` made (none: no access lines,
    as for an app in a test). The app owns its secrets (masked in its errors and
    logs) and its request ids: two apps in one process share none of them.
    """
    check_auth_config(settings)
    secrets = SecretRegistry()
    for secret in (settings.admin_key, settings.metrics.token):
        secrets.add(secret.get_secret_value() if secret else None)
    # Master keys join when they are loaded (storage.crypto.load_cipher, at start-up).
    access_log = access_log or AccessLog()
    limits = settings.body_limits
    app = web.Application(
        client_max_size=max(limits.chat_bytes, limits.admin_bytes, limits.default_bytes),
        handler_args={"max_field_size": 16 * 1024},
    )
    app[SETTINGS] = settings
    app[SECRETS] = secrets
    app[ACCESS_LOG] = access_log
    app.cleanup_ctx.append(_own_context)  # first: in force for every start-up that follows
    app[LIFECYCLE] = Lifecycle(started_at=time.monotonic())
    app[ROUTES] = {}
    app.cleanup_ctx.append(redis_context)  # first, so the client closes after all its users
    redis = None
    if settings.storage.backend == "redis":
        redis = app[REDIS] = redis_client(settings.storage)  # the worker's one client
    redis_link = RedisLink()  # the store and the limiter learn together that Redis hangs
    app[STORAGE] = create_storage(settings, redis, redis_link)
    app[METRICS] = Metrics(settings.metrics)
    app[KEYS] = KeyStore(app[STORAGE].collection("keys"))
    app[LIMITER] = create_limiter(settings, redis, redis_link)
    app[RATE_POLICY] = RatePolicy(settings.rate_limit)
    stamps.setup(app)
    app[RESPONSE_STAMPS].append(response_stamper(settings))
    app[RESPONSE_STAMPS].append(stamp_rate_limit_headers)
    app.cleanup_ctx.append(_storage_context)
    app.cleanup_ctx.append(_keys_context)
    registry.setup(app)
    services.setup(app)  # upstream client, health, catalog, router, usage hooks, monitor
    ledger.setup(app)  # usage and cost per request, budgets
    usage_ledger = app.get(ledger.LEDGER)  # the chain records into it, so it comes first
    app.middlewares.extend(build_chain(settings, secrets, access_log, usage_ledger))
    health.setup(app)
    providers.setup(app)
    provider_checks.setup(app)
    templates.setup(app)
    chat.setup(app)
    messages.setup(app)
    embeddings.setup(app)
    responses.setup(app)
    models.setup(app)
    openapi.setup(app)
    metrics.setup(app)
    ui.setup(app)
    keys.setup(app)
    usage.setup(app)
    setup_cors(app, settings)  # keep last: it covers the routes registered above
    return app


async def _own_context(app: web.Application) -> AsyncIterator[None]:
    """Put the app's secrets in force for its start-up and the tasks it starts; at the end,
    write the access lines still pending."""
    app[SECRETS].activate()
    yield
    app[ACCESS_LOG].flush()


async def _storage_context(app: web.Application) -> AsyncIterator[None]:
    """Open the store before serving; close it after the last request."""
    storage = app[STORAGE]
    await storage.open()
    yield
    await storage.close()


async def _keys_context(app: web.Application) -> AsyncIterator[None]:
    """Load the key index once storage is open; warn loudly when auth is off."""
    warn_if_auth_off(app[SETTINGS])
    await app[KEYS].start()
    yield
    await app[KEYS].stop()
