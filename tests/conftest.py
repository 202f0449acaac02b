"""Shared fixtures: settings for a throwaway data folder and a client of the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from gateway.storage.base import Storage
from gateway.storage.factory import opened_storage
from tests.fakes.redis_server import RedisServer, start_redis_server

TEST_SECRET_KEY = "OgFXO1xRYQ6a8sS-hP_10522qq16aa0Kqnn7CVFxPSk="
"""A Fernet master key for tests whose instances must share one (the Redis backend)."""

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
        if not {"admin_key", "auth", "env"} & overrides.keys():
            # Outside development auth is off only when configured so: tests that do
            # not exercise auth say so; auth tests pass admin_key, auth or env.
            values["auth"] = {"enabled": False}
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


# --- Redis: one real server per session, and the backend-neutral storage fixture ---


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A running redis-server; ``.url`` to connect, ``.stop()``/``.start()`` for failure tests."""
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The URL of an empty, running Redis; restarted after a test that stopped it."""
    redis_server.start()
    redis_server.flush()
    yield redis_server.url
    redis_server.start()


@pytest.fixture(params=["file", "redis"])
async def storage_backend(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> AsyncIterator[Storage]:
    """An opened Storage of each backend, for store tests that must hold on both."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings = make_settings(
            storage={"backend": "redis", "redis_url": url}, secret_key=TEST_SECRET_KEY
        )
    else:
        settings = make_settings()
    async with opened_storage(settings) as storage:
        yield storage
