"""The worker's one Redis client: built one way, every call bounded by ``storage.redis_timeout_s``.

With the redis backend, ``create_app`` puts one client under ``REDIS`` and hands
it to everything kept in Redis (the store, the limiter, the shared catalog and
health probes, the ledger, the Responses store); none of them closes it:
``redis_context`` does, after the last of them has stopped. The client never
retries on its own; callers decide (the store reconnects in the background, the
limiter falls back), so no request waits longer than the timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import redis.asyncio as aioredis
import redis.exceptions
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.settings import StorageSettings

T = TypeVar("T")

Redis = aioredis.Redis

UNREACHABLE: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    TimeoutError,
    OSError,
)
"""Errors that mean "Redis cannot be reached now", as opposed to a bug in a command."""

TIMEOUTS: tuple[type[BaseException], ...] = (redis.exceptions.TimeoutError, TimeoutError)
"""Of those, the ones that took a whole ``redis_timeout_s`` (a hung server)."""


def redis_client(storage: StorageSettings) -> Redis:
    """A client for ``storage.redis_url`` (redis://, rediss:// for TLS, password in the URL)."""
    if storage.redis_url is None:
        raise ValueError("storage.redis_url is required for the redis backend")
    timeout = storage.redis_timeout_s
    return aioredis.Redis.from_url(
        storage.redis_url.get_secret_value(),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )


REDIS = web.AppKey("redis", Redis)
"""This worker's Redis client (redis backend only)."""


async def redis_context(app: web.Application) -> AsyncIterator[None]:
    """Close the worker's Redis client; register it first, so it runs after every user's."""
    yield
    client = app.get(REDIS)
    if client is not None:
        await client.aclose()


async def bounded(call: Awaitable[T], timeout_s: float) -> T:
    """Await one Redis call, never longer than ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        return await call


def describe(exc: BaseException) -> str:
    """A short reason for health output; redis-py messages carry host:port, never the password."""
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
