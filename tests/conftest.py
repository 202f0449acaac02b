"""Shared fixtures: settings for a throwaway data folder and a client of the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from gateway.storage.base import Storage

AppClient = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the developer's GATEWAY_* variables or .env file."""
    import os

    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "storage": {"path": str(tmp_path / "data")},
            "providers": {"dir": str(tmp_path / "providers.d")},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}
            else:
                values[key] = value
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def client(
    aiohttp_client: AppClient, settings: Settings
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(create_app(settings))


STORAGE_BACKENDS = ["file"]
"""Backends the backend-neutral store tests run against (the Redis work adds "redis")."""


@pytest.fixture(params=STORAGE_BACKENDS)
async def storage_backend(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> AsyncIterator[Storage]:
    """An opened, empty storage backend; closed after the test."""
    from gateway.storage.factory import create_storage

    storage = create_storage(make_settings(storage={"backend": request.param}))
    await storage.open()
    yield storage
    await storage.close()
