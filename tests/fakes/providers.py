"""A fake models upstream on real HTTP, a provider directory pointing at it, and a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from gateway.adapters.base import Target, TemplatePaths
from gateway.providers.live import LiveProvider
from gateway.settings import UpstreamSettings
from gateway.upstream import Upstream
from tests.fakes.models_upstream import ModelsUpstream


class FakeClock:
    """A clock that stands still until a test advances it (for health and cache timing)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Directory:
    """A ProviderDirectory over a dict, for tests that need no registry."""

    def __init__(self, providers: Sequence[LiveProvider] = ()) -> None:
        self.providers = {p.id: p for p in providers}

    def get(self, provider_id: str) -> LiveProvider | None:
        return self.providers.get(provider_id)

    def all(self) -> Sequence[LiveProvider]:
        return list(self.providers.values())

    def subscribe(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        return lambda: None


def live_provider(
    provider_id: str, base_url: str, key: str = "sk-fake-key", **overrides: Any
) -> LiveProvider:
    paths = overrides.pop("paths", TemplatePaths())
    target = Target(
        provider_id=provider_id,
        base_url=base_url,
        headers={"Authorization": f"Bearer {key}"},
        paths=paths,
    )
    values: dict[str, Any] = {
        "id": provider_id,
        "name": provider_id,
        "template": "openai",
        "adapter": "openai",
        "target": target,
    }
    return LiveProvider(**(values | overrides))


@pytest.fixture
def upstream() -> ModelsUpstream:
    return ModelsUpstream(["gpt-4o", "gpt-4o-mini", "o3"])


@pytest.fixture
async def upstream_url(aiohttp_server: Any, upstream: ModelsUpstream) -> str:
    server: TestServer = await aiohttp_server(upstream.app())
    return str(server.make_url("/v1")).rstrip("/")


@pytest.fixture
async def upstream_client() -> AsyncIterator[Upstream]:
    """The gateway's own upstream client, as the catalog and the monitor use it."""
    client = Upstream(UpstreamSettings())  # type: ignore[call-arg]
    await client.start()
    yield client
    await client.close()
