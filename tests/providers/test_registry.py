"""The registry: precomputed targets, and changes made by another process reach this one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gateway.app import create_app
from gateway.providers.records import ProviderRecord
from gateway.providers.registry import PROVIDERS, build_live, merge_headers
from gateway.providers.templates import load_templates
from gateway.settings import Settings
from tests.conftest import AppClient


def test_merge_headers_is_case_insensitive_and_later_wins() -> None:
    merged = merge_headers({"Authorization": "Bearer a"}, {"X-A": "1"}, {"authorization": "b"})
    assert merged == {"X-A": "1", "authorization": "b"}


def test_build_live_precomputes_the_target() -> None:
    record = ProviderRecord(
        id="g",
        name="G",
        template="gemini",
        base_url="https://generativelanguage.googleapis.com/v1beta/",
        headers={"X-Extra": "1"},
        models=["gemini-2.0-flash"],
        aliases={"flash": "gemini-2.0-flash"},
        priority=2,
        weight=3,
        timeout_s=30,
        health_checks=False,
        created_at=1,
        updated_at=1,
    )
    live = build_live(record, "AIza-key", load_templates()["gemini"])
    assert live.adapter == "gemini"
    assert live.target.base_url == "https://generativelanguage.googleapis.com/v1beta"
    assert live.target.headers == {"x-goog-api-key": "AIza-key", "X-Extra": "1"}
    url = live.target.url(live.target.paths.chat, "gemini-2.0-flash")
    assert url.endswith("/v1beta/models/gemini-2.0-flash:generateContent")
    assert "key=" not in url
    assert live.allows("gemini-2.0-flash") and not live.allows("other")
    assert live.static_models == ("gemini-2.0-flash",)
    assert (live.priority, live.weight, live.timeout_s, live.health_checks) == (2, 3, 30, False)


async def test_a_write_by_another_process_reaches_the_registry(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings))  # same data folder, like a 2nd worker
    heard: list[str | None] = []
    second.app[PROVIDERS].subscribe(heard.append)
    response = await first.post(
        "/api/v1/providers", json={"id": "shared", "name": "Shared", "template": "ollama"}
    )
    assert response.status == 201
    deadline = time.monotonic() + 3
    while second.app[PROVIDERS].get("shared") is None:
        assert time.monotonic() < deadline, "the other instance never saw the write"
        await asyncio.sleep(0.05)
    assert heard
