"""Gateway API keys: the store, the principal on each request, the admin routes."""

from __future__ import annotations

from aiohttp import web

from gateway.keys.store import KeyStore

KEYS = web.AppKey("key_store", KeyStore)

__all__ = ["KEYS", "KeyStore"]
