"""Wire-format adapters: one module per upstream API family behind one interface.

The composition root builds them once per application (``create_adapters``) and
keeps them under ``ADAPTERS``; routes and the proxy read them from the app.
"""

from __future__ import annotations

from aiohttp import web

from gateway.adapters.anthropic import AnthropicAdapter
from gateway.adapters.base import Adapter
from gateway.adapters.gemini import GeminiAdapter
from gateway.adapters.openai import OpenAIAdapter

ADAPTERS = web.AppKey("adapters", dict[str, Adapter])
"""The application's adapters by name (a provider's ``adapter`` field)."""


def create_adapters() -> dict[str, Adapter]:
    """One instance of every adapter, by name."""
    return {
        adapter.name: adapter for adapter in (OpenAIAdapter(), AnthropicAdapter(), GeminiAdapter())
    }
