"""Wire-format adapters: one module per upstream API family behind one interface."""

from __future__ import annotations

from gateway.adapters.anthropic import AnthropicAdapter
from gateway.adapters.base import Adapter
from gateway.adapters.gemini import GeminiAdapter
from gateway.adapters.openai import OpenAIAdapter

ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter for adapter in (OpenAIAdapter(), AnthropicAdapter(), GeminiAdapter())
}
