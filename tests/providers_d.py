"""Providers for end-to-end tests, the way operators add them: files in providers.d.

The real app (create_app) then loads them through the provider registry, so
routing, adapters, health and metrics are all the product's own.
"""

from __future__ import annotations

from typing import Any

import yaml
from aiohttp import web

from gateway.app import create_app
from gateway.settings import Settings

SERVER_KWARGS = {"handler_cancellation": True}
"""As gateway/server.py runs the app."""

QUIET: dict[str, Any] = {"health": {"enabled": False}, "catalog": {"prefetch": False}}
"""Settings overrides: no background probes or prefetch, so upstream call counts are exact."""


def write_provider(
    settings: Settings,
    provider_id: str,
    base_url: str,
    *,
    template: str = "openai",
    api_key: str | None = "sk-secret-test",
    serves: tuple[str, ...] = (),
    **fields: Any,
) -> None:
    """One provider file; ``serves`` names models it routes without an allow-list."""
    folder = settings.providers.dir
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "id": provider_id,
        "name": provider_id,
        "template": template,
        "base_url": base_url,
        **fields,
    }
    if api_key is not None:
        data["api_key"] = api_key
    if serves:
        data["aliases"] = {**{m: m for m in serves}, **fields.get("aliases", {})}
    (folder / f"{provider_id}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def gateway_app(settings: Settings, *providers: dict[str, Any]) -> web.Application:
    """The real app, after writing one providers.d file per ``write_provider`` kwargs."""
    for provider in providers:
        write_provider(settings, **provider)
    return create_app(settings)
