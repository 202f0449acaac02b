"""The provider CRUD API over real HTTP, against the real app and file system."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import prometheus_client
import pytest

from gateway.app import create_app
from gateway.providers.registry import PROVIDERS
from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.base import API_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.test_app import assert_openai_error

KEY = "sk-test-PLAINTEXT-provider-key-9f3a"


def body(**fields: Any) -> dict[str, Any]:
    return {"name": "My OpenAI", "template": "openai", "api_key": KEY, **fields}


async def test_create_get_list_delete(client) -> None:  # type: ignore[no-untyped-def]
    created = await client.post("/api/v1/providers", json=body(headers={"X-Team": "a"}))
    assert created.status == 201, await created.text()
    assert created.headers["Location"] == "/api/v1/providers/my-openai"
    provider = await created.json()
    assert provider["id"] == "my-openai"  # derived from the name
    assert provider["base_url"] == "https://api.openai.com/v1"  # the template's
    assert provider["has_api_key"] is True
    assert provider["api_key_hint"] == "sk-…9f3a"
    assert provider["source"] == "api"
    assert provider["created_at"] == provider["updated_at"] > 0
    assert "api_key" not in provider and "api_key_encrypted" not in provider

    got = await client.get("/api/v1/providers/my-openai")
    assert got.status == 200
    assert await got.json() == provider

    listing = await (await client.get("/api/v1/providers")).json()
    assert listing["object"] == "list"
    assert [p["id"] for p in listing["data"]] == ["my-openai"]

    live = client.app[PROVIDERS].get("my-openai")
    assert live is not None
    assert live.target.headers == {"Authorization": f"Bearer {KEY}", "X-Team": "a"}
    assert live.target.base_url == "https://api.openai.com/v1"

    deleted = await client.delete("/api/v1/providers/my-openai")
    assert deleted.status == 204
    assert client.app[PROVIDERS].get("my-openai") is None
    missing = await client.get("/api/v1/providers/my-openai")
    assert missing.status == 404
    assert_openai_error(await missing.json(), "not_found")
    again = await client.delete("/api/v1/providers/my-openai")
    assert again.status == 404
    assert_openai_error(await again.json(), "not_found")


async def test_filters(client) -> None:  # type: ignore[no-untyped-def]
    await client.post("/api/v1/providers", json=body(id="a"))
    await client.post("/api/v1/providers", json=body(id="b", enabled=False))
    await client.post("/api/v1/providers", json={"id": "c", "name": "Local", "template": "ollama"})

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/api/v1/providers{query}")
        assert response.status == 200
        return [p["id"] for p in (await response.json())["data"]]

    assert await ids("") == ["a", "b", "c"]
    assert await ids("?enabled=true") == ["a", "c"]
    assert await ids("?enabled=false") == ["b"]
    assert await ids("?template=ollama") == ["c"]
    assert await ids("?template=ollama&enabled=false") == []
    bad = await client.get("/api/v1/providers?enabled=maybe")
    assert bad.status == 400
    assert assert_openai_error(await bad.json())["param"] == "enabled"


async def test_duplicate_id_is_409(client) -> None:  # type: ignore[no-untyped-def]
    assert (await client.post("/api/v1/providers", json=body(id="dup"))).status == 201
    second = await client.post("/api/v1/providers", json=body(id="dup"))
    assert second.status == 409
    error = assert_openai_error(await second.json(), "conflict")
    assert "dup" in str(error["message"])


async def test_invalid_body_names_first_field_and_lists_all(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/v1/providers",
        json={
            "id": "Bad Id",
            "name": "x",
            "template": "openai",
            "api_key": KEY,
            "base_url": "ftp://user:pw@host/",
            "headers": {"Bad Header": "v", "X-Ok": "a\r\nInjected: 1"},
            "weight": 0,
            "timeout_s": 601,
        },
    )
    assert response.status == 400
    error = assert_openai_error(await response.json(), "invalid_provider")
    assert error["param"] == "id"
    message = str(error["message"])
    for field in ("id", "base_url", "headers", "weight", "timeout_s"):
        assert f"{field}:" in message
    assert "'Bad Header'" in message and "CR, LF or NUL" in message
    assert KEY not in message


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"base_url": "https://u:p@example.com/v1"}, "base_url"),
        ({"base_url": "https:///v1"}, "base_url"),
        ({"base_url": "javascript:alert(1)"}, "base_url"),
        ({"name": ""}, "name"),
        ({"name": "tab\tname"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"priority": "high"}, "priority"),
        ({"enabled": "yes"}, "enabled"),
        ({"headers": {"X-Nul": "a\x00b"}}, "headers"),
        ({"models": ["ok", ""]}, "models.1"),
        ({"id": "Upper"}, "id"),
        ({"id": "-lead"}, "id"),
        ({"id": "a" * 64}, "id"),
        ({"base_url": "ftp://example.com/v1"}, "base_url"),
        ({"name": "bell\x07"}, "name"),
        ({"headers": {"Bad Name": "v"}}, "headers"),
        ({"headers": {"X-Split": "a\r\nInjected: 1"}}, "headers"),
        ({"weight": 0}, "weight"),
        ({"timeout_s": 0.5}, "timeout_s"),
        ({"timeout_s": 601}, "timeout_s"),
        ({"aliases": {"fast": ""}}, "aliases.fast"),
    ],
)
async def test_each_invalid_field_is_named(client, fields: dict[str, Any], param: str) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/providers", json=body(**fields))
    assert response.status == 400
    assert assert_openai_error(await response.json())["param"] == param
    assert (await (await client.get("/api/v1/providers")).json())["data"] == []  # nothing stored


@pytest.mark.parametrize(
    "fields",
    [
        {"id": "a" * 63, "name": "x" * 100},
        {"id": "0_a-b", "name": "Ünïcode name ok"},
        {"weight": 1, "timeout_s": 1},
        {"timeout_s": 600, "priority": -5},
        {"base_url": "http://[2001:db8::1]:8080/v1", "headers": {"X-Ok_1!": "a b\tc"}},
    ],
)
async def test_boundary_values_are_accepted(client, fields: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/providers", json=body(**fields))
    assert response.status == 201, await response.text()
    provider = await response.json()
    for name, value in fields.items():
        assert provider[name] == value


async def test_unknown_fields_are_named(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/providers", json=body(colour="red", apikey="x"))
    assert response.status == 400
    error = assert_openai_error(await response.json())
    assert error["param"] == "colour"
    assert "unknown field(s): colour, apikey" in str(error["message"])


async def test_unknown_template_and_template_rules(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/providers", json=body(template="nope"))
    assert response.status == 400
    error = assert_openai_error(await response.json(), "unknown_template")
    assert error["param"] == "template" and "'nope'" in str(error["message"])

    no_key = await client.post("/api/v1/providers", json={"name": "x", "template": "openai"})
    assert no_key.status == 400
    assert assert_openai_error(await no_key.json())["param"] == "api_key"

    azure = await client.post("/api/v1/providers", json=body(template="azure-openai"))
    assert azure.status == 400
    assert assert_openai_error(await azure.json())["param"] == "base_url"

    nameless = await client.post("/api/v1/providers", json=body(name="!!!"))
    assert nameless.status == 201  # no letter to derive an id from: one from the name's hash
    assert (await nameless.json())["id"].startswith("provider-")


async def test_not_json_and_wrong_content_type(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/v1/providers", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert_openai_error(await response.json(), "invalid_json")
    response = await client.post(
        "/api/v1/providers", data=b"[1, 2]", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert_openai_error(await response.json(), "invalid_json")
    response = await client.post(
        "/api/v1/providers", data=b"name=x", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    assert_openai_error(await response.json(), "unsupported_media_type")
    await client.post("/api/v1/providers", json=body(id="p"))
    response = await client.patch(
        "/api/v1/providers/p", data=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415


async def test_body_over_admin_limit_is_413(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/v1/providers", json=body(headers={"X-Big": "a" * (70 * 1024)})
    )
    assert response.status == 413
    assert_openai_error(await response.json(), "payload_too_large")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_update_semantics(client, method: str) -> None:  # type: ignore[no-untyped-def]
    created = await (await client.post("/api/v1/providers", json=body(id="p", priority=3))).json()

    response = await client.request(method, "/api/v1/providers/p", json={"name": "Renamed"})
    assert response.status == 200, await response.text()
    updated = await response.json()
    assert updated["name"] == "Renamed"
    assert updated["priority"] == 3  # absent fields are kept
    assert updated["has_api_key"] is True  # api_key absent keeps the key
    assert updated["created_at"] == created["created_at"]
    assert client.app[PROVIDERS].get("p").target.headers["Authorization"] == f"Bearer {KEY}"  # type: ignore[union-attr]

    response = await client.request(
        method, "/api/v1/providers/p", json={"api_key": "sk-another-long-key-0000"}
    )
    assert (await response.json())["api_key_hint"] == "sk-…0000"
    live = client.app[PROVIDERS].get("p")
    assert live is not None
    assert live.target.headers["Authorization"] == "Bearer sk-another-long-key-0000"

    # a key-less template, then the key removed with null
    response = await client.request(
        method, "/api/v1/providers/p", json={"template": "vllm", "api_key": None}
    )
    assert response.status == 200, await response.text()
    changed = await response.json()
    assert changed["has_api_key"] is False and changed["api_key_hint"] is None
    assert changed["base_url"] == "http://127.0.0.1:8000/v1"  # followed the template default
    live = client.app[PROVIDERS].get("p")
    assert live is not None and "Authorization" not in live.target.headers

    response = await client.request(method, "/api/v1/providers/p", json={"id": "other"})
    assert response.status == 400
    assert assert_openai_error(await response.json())["param"] == "id"
    response = await client.request(method, "/api/v1/providers/p", json={"weight": 0})
    assert response.status == 400
    assert assert_openai_error(await response.json())["param"] == "weight"
    response = await client.request(method, "/api/v1/providers/p", json={"name": None})
    assert response.status == 400
    assert assert_openai_error(await response.json())["param"] == "name"
    response = await client.request(method, "/api/v1/providers/p", json={"bogus": 1})
    assert response.status == 400
    assert assert_openai_error(await response.json())["param"] == "bogus"
    response = await client.request(method, "/api/v1/providers/nope", json={"name": "x"})
    assert response.status == 404
    assert_openai_error(await response.json(), "not_found")


async def test_key_required_template_refuses_key_removal(client) -> None:  # type: ignore[no-untyped-def]
    await client.post("/api/v1/providers", json=body(id="p"))
    response = await client.put("/api/v1/providers/p", json={"api_key": None})
    assert response.status == 400
    assert assert_openai_error(await response.json())["param"] == "api_key"


async def test_template_headers_and_query_reach_the_target(client) -> None:  # type: ignore[no-untyped-def]
    await client.post(
        "/api/v1/providers",
        json={"id": "claude", "name": "Claude", "template": "anthropic", "api_key": KEY},
    )
    await client.post(
        "/api/v1/providers",
        json={
            "id": "az",
            "name": "Azure",
            "template": "azure-openai",
            "api_key": KEY,
            "base_url": "https://res.openai.azure.com/openai/",
        },
    )
    claude = client.app[PROVIDERS].get("claude")
    assert claude is not None and claude.adapter == "anthropic"
    assert claude.target.headers == {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    assert claude.target.url(claude.target.paths.chat) == "https://api.anthropic.com/v1/messages"
    azure = client.app[PROVIDERS].get("az")
    assert azure is not None
    assert azure.target.headers == {"api-key": KEY}
    assert azure.target.query == {"api-version": "2024-10-21"}
    assert (
        azure.target.url(azure.target.paths.chat, "gpt4o")
        == "https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions"
    )


async def test_subscribers_hear_about_changes(client) -> None:  # type: ignore[no-untyped-def]
    heard: list[str | None] = []
    client.app[PROVIDERS].subscribe(heard.append)
    await client.post("/api/v1/providers", json=body(id="p"))
    assert heard
    count = len(heard)
    await client.delete("/api/v1/providers/p")
    assert len(heard) > count


async def test_persists_across_restart(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    first = await aiohttp_client(create_app(settings))
    await first.post("/api/v1/providers", json=body(id="keep", aliases={"fast": "gpt-4o-mini"}))
    await first.close()

    second = await aiohttp_client(create_app(settings))
    provider = await (await second.get("/api/v1/providers/keep")).json()
    assert provider["aliases"] == {"fast": "gpt-4o-mini"}
    assert provider["has_api_key"] is True
    live = second.app[PROVIDERS].get("keep")
    assert live is not None and live.target.headers["Authorization"] == f"Bearer {KEY}"
    assert live.upstream_model("fast") == "gpt-4o-mini"


async def test_the_key_leaks_nowhere(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No file under data/, no log line, no response and no metric holds the plaintext key."""
    settings = make_settings(logging={"level": "DEBUG"})
    caplog.set_level(logging.DEBUG)
    client = await aiohttp_client(create_app(settings))
    responses: list[bytes] = []

    async def call(method: str, path: str, **kwargs: Any) -> None:
        response = await client.request(method, path, **kwargs)
        responses.append(repr(dict(response.headers)).encode() + await response.read())

    await call("POST", "/api/v1/providers", json=body(id="p"))
    await call("POST", "/api/v1/providers", json=body(id="p"))  # 409
    await call("POST", "/api/v1/providers", json=body(id="q", weight=0))  # 400 with the key in
    await call("POST", "/api/v1/providers", json={"api_key": KEY, "bogus": KEY})
    await call("PATCH", "/api/v1/providers/p", json={"api_key": KEY, "name": "Again"})
    await call("PUT", "/api/v1/providers/p", json={"api_key": 5})
    await call("GET", "/api/v1/providers")
    await call("GET", "/api/v1/providers/p")
    await call("GET", "/api/v1/openapi.json")
    metrics = await client.get("/metrics")
    assert metrics.status == 200
    exposition = await metrics.read()
    assert b'provider="p"' in exposition or b"gateway_" in exposition  # a real exposition
    responses.append(exposition)
    assert client.app[PROVIDERS].get("p") is not None
    await client.close()

    secret = KEY.encode()
    assert all(secret not in response for response in responses)
    files = [path for path in (tmp_path / "data").rglob("*") if path.is_file()]
    assert any(path.name == "providers.json" for path in files)
    for path in files:
        assert secret not in path.read_bytes(), path
    assert caplog.records
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.__dict__)
    assert secret not in prometheus_client.generate_latest(prometheus_client.REGISTRY)


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("short-key", "…"),  # under 12: not even the last 4
        ("abcdefgh1234", "…1234"),  # 12: the last 4 only
        ("sk-abcdefghijklmn5678", "sk-…5678"),  # long: a prefix as well
    ],
)
async def test_key_hint_shows_little_of_short_keys(client, key: str, hint: str) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/providers", json=body(api_key=key))
    assert response.status == 201, await response.text()
    provider = await response.json()
    assert provider["api_key_hint"] == hint and provider["has_api_key"] is True
    assert key not in await (await client.get("/api/v1/providers")).text()


async def test_a_provider_change_refreshes_only_that_providers_models(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    async with FakeOpenAI() as a, FakeOpenAI() as b:
        client = await aiohttp_client(create_app(make_settings(health={"enabled": False})))
        for provider_id, fake in (("a", a), ("b", b)):
            created = await client.post(
                "/api/v1/providers",
                json={"id": provider_id, "name": provider_id, "template": "openai",
                      "base_url": fake.url, "api_key": API_KEY},
            )  # fmt: skip
            assert created.status == 201

        def listings(fake: FakeOpenAI) -> int:
            return sum(r.path == "/v1/models" for r in fake.requests)

        async def settled() -> tuple[int, int]:
            for _ in range(100):
                await asyncio.sleep(0.05)
                seen = (listings(a), listings(b))
                if all(seen):
                    await asyncio.sleep(0.2)  # anything else in flight lands meanwhile
                    return listings(a), listings(b)
            raise AssertionError("the model lists were never fetched")

        before_a, before_b = await settled()
        changed = await client.patch("/api/v1/providers/a", json={"priority": 7})
        assert changed.status == 200
        for _ in range(100):
            if listings(a) > before_a:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        assert listings(a) == before_a + 1
        assert listings(b) == before_b  # untouched: its list is still good
