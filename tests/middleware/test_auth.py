"""Authentication by route group: admin key, client keys, scopes, models, expiry, auth off."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.keys import KEYS
from gateway.middleware.auth import auth_enabled, check_auth_config
from gateway.settings import ConfigError, Settings
from tests.conftest import AppClient
from tests.middleware.probe import probe_app
from tests.processes import run_cli
from tests.test_app import assert_openai_error

ADMIN_KEY = "adm-test-0123456789abcdef"
Client = TestClient[web.Request, web.Application]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def secured(aiohttp_client: AppClient, make_settings: Callable[..., Settings]) -> Client:
    return await aiohttp_client(probe_app(make_settings(admin_key=ADMIN_KEY)))


async def new_key(client: Client, **spec: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/keys", json={"name": "t", **spec}, headers=bearer(ADMIN_KEY)
    )
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_missing_or_invalid_key_is_401_and_public_routes_are_open(secured: Client) -> None:
    assert (await secured.get("/api/v1/health")).status == 200
    response = await secured.get("/api/v1/test/chat")
    assert response.status == 401
    assert_openai_error(await response.json(), "invalid_api_key")

    wrong = "gw-" + "x" * 43
    response = await secured.get("/api/v1/test/chat", headers=bearer(wrong))
    assert response.status == 401
    text = await response.text()
    assert_openai_error(await response.json(), "invalid_api_key")
    assert wrong not in text
    response = await secured.get("/api/v1/test/chat", headers={"Authorization": "Basic abc"})
    assert response.status == 401


async def test_admin_key_by_bearer_or_x_api_key(secured: Client) -> None:
    for headers in (bearer(ADMIN_KEY), {"X-API-Key": ADMIN_KEY}):
        response = await secured.get("/api/v1/test/admin", headers=headers)
        assert response.status == 200
        assert (await response.json())["key_id"] == "admin"
    # Admin is also allowed on chat routes.
    assert (await secured.get("/api/v1/test/chat", headers=bearer(ADMIN_KEY))).status == 200


async def test_key_is_shown_once_and_stored_as_hash(secured: Client, tmp_path: Path) -> None:
    created = await new_key(secured, scopes=["chat"])
    key = created["key"]
    assert key.startswith("gw-") and len(key) >= 3 + 43
    assert created["prefix"] == key[: len(created["prefix"])]
    stored = (tmp_path / "data" / "keys.json").read_text()
    assert key not in stored and created["id"] in stored

    listing = await (await secured.get("/api/v1/keys", headers=bearer(ADMIN_KEY))).json()
    assert [item["id"] for item in listing["data"]] == [created["id"]]
    assert "key" not in listing["data"][0] and "hash" not in listing["data"][0]
    one = await secured.get(f"/api/v1/keys/{created['id']}", headers=bearer(ADMIN_KEY))
    assert (await one.json())["prefix"] == created["prefix"]
    assert key not in await one.text()


async def test_scopes_decide_403(secured: Client) -> None:
    chat = (await new_key(secured, scopes=["chat"]))["key"]
    models_only = (await new_key(secured, scopes=["models"]))["key"]

    assert (await secured.get("/api/v1/test/chat", headers=bearer(chat))).status == 200
    assert (await secured.get("/api/v1/test/models", headers=bearer(chat))).status == 200
    response = await secured.get("/api/v1/test/admin", headers=bearer(chat))
    assert response.status == 403
    assert (await response.json())["error"]["type"] == "permission_error"
    response = await secured.get("/api/v1/keys", headers={"X-API-Key": chat})
    assert response.status == 403

    assert (await secured.get("/api/v1/test/models", headers=bearer(models_only))).status == 200
    assert (await secured.get("/api/v1/test/chat", headers=bearer(models_only))).status == 403


async def test_model_allow_list(secured: Client) -> None:
    key = (await new_key(secured, models=["gpt-4o-mini"]))["key"]
    ok = await secured.get("/api/v1/test/model?model=gpt-4o-mini", headers=bearer(key))
    assert ok.status == 200
    refused = await secured.get("/api/v1/test/model?model=gpt-4o", headers=bearer(key))
    assert refused.status == 403
    assert (await refused.json())["error"]["param"] == "model"
    # provider/model and provider/* name the provider that actually serves the model.
    scoped = (await new_key(secured, models=["p/exact", "q/*"]))["key"]
    cases = {"provider=p&model=exact": 200, "provider=r&model=exact": 403,
             "provider=q&model=any": 200, "provider=p&model=any": 403}  # fmt: skip
    for query, status in cases.items():
        response = await secured.get(f"/api/v1/test/model?{query}", headers=bearer(scoped))
        assert response.status == status, query
    for unrestricted in ({}, {"models": []}):  # the console sends [] for "any model"
        free = (await new_key(secured, **unrestricted))["key"]
        response = await secured.get("/api/v1/test/model?model=x", headers=bearer(free))
        assert response.status == 200


async def test_revoked_key_is_rejected_on_the_very_next_request(secured: Client) -> None:
    created = await new_key(secured)
    key = created["key"]
    assert (await secured.get("/api/v1/test/chat", headers=bearer(key))).status == 200
    response = await secured.delete(f"/api/v1/keys/{created['id']}", headers=bearer(ADMIN_KEY))
    assert response.status == 204
    assert (await secured.get("/api/v1/test/chat", headers=bearer(key))).status == 401
    again = await secured.delete(f"/api/v1/keys/{created['id']}", headers=bearer(ADMIN_KEY))
    assert again.status == 404


async def test_expired_key_is_rejected(secured: Client) -> None:
    store = secured.app[KEYS]
    past = datetime.now(UTC) - timedelta(seconds=1)
    key, _ = await store.create(name="old", scopes=["chat"], expires_at=past)
    response = await secured.get("/api/v1/test/chat", headers=bearer(key))
    assert response.status == 401
    assert "expired" in (await response.json())["error"]["message"]
    future = datetime.now(UTC) + timedelta(hours=1)
    key, _ = await store.create(name="new", scopes=["chat"], expires_at=future)
    assert (await secured.get("/api/v1/test/chat", headers=bearer(key))).status == 200


async def test_a_key_made_with_a_past_expiry_is_expired_from_the_start(secured: Client) -> None:
    """The description cannot state "in the future"; such a key is made, and refused."""
    body = {"name": "late", "expires_at": "2001-01-01T00:00:00Z"}
    made = await secured.post("/api/v1/keys", json=body, headers=bearer(ADMIN_KEY))
    assert made.status == 201
    response = await secured.get("/api/v1/test/chat", headers=bearer((await made.json())["key"]))
    assert response.status == 401 and "expired" in (await response.json())["error"]["message"]


async def test_create_key_validation(secured: Client) -> None:
    cases = [
        ({"name": "x", "expires_at": "2001-13-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "scopes": ["root"]}, "scopes.0"),
        ({"name": "bad\nname"}, "name"),
        ({"name": "x", "rpm": 0}, "rpm"),
        ({"name": "x", "colour": "red"}, "colour"),
    ]
    for body, param in cases:
        response = await secured.post("/api/v1/keys", json=body, headers=bearer(ADMIN_KEY))
        assert response.status == 400, body
        assert (await response.json())["error"]["param"] == param
    json_type = {**bearer(ADMIN_KEY), "Content-Type": "application/json"}
    response = await secured.post("/api/v1/keys", data=b"{", headers=json_type)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"
    response = await secured.post("/api/v1/keys", data=b"{}", headers=bearer(ADMIN_KEY))
    assert response.status == 415


async def test_metrics_public_unless_a_token_is_set(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    open_metrics = await aiohttp_client(probe_app(make_settings(admin_key=ADMIN_KEY)))
    assert (await open_metrics.get("/test/metrics")).status == 200

    token = "metrics-token-abcdef"
    guarded = await aiohttp_client(
        probe_app(make_settings(admin_key=ADMIN_KEY, metrics={"token": token}))
    )
    assert (await guarded.get("/test/metrics")).status == 401
    assert (await guarded.get("/test/metrics", headers=bearer("nope"))).status == 401
    # The metrics token counts only as a bearer token (what Prometheus sends), never X-API-Key.
    refused = await guarded.get("/test/metrics", headers={"X-API-Key": token})
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert (await guarded.get("/test/metrics", headers=bearer(token))).status == 200


async def test_auth_off_in_development_loopback_and_warns(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(env="development")
    assert not auth_enabled(settings)
    with caplog.at_level(logging.WARNING, logger="gateway.auth"):
        client = await aiohttp_client(probe_app(settings))
    assert any("authentication is OFF" in r.getMessage() for r in caplog.records)
    response = await client.get("/api/v1/test/admin")
    assert response.status == 200
    assert (await response.json())["name"] == "anonymous"


def test_when_auth_is_on(make_settings: Callable[..., Settings]) -> None:
    assert not auth_enabled(make_settings(env="development"))
    assert auth_enabled(make_settings(env="development", admin_key=ADMIN_KEY))
    assert auth_enabled(make_settings(env="production"))
    assert auth_enabled(make_settings(env="development", server={"host": "0.0.0.0"}))
    assert not auth_enabled(make_settings(env="production", auth={"enabled": False}))


def test_auth_off_on_a_public_bind_refuses_to_start(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(auth={"enabled": False}, server={"host": "0.0.0.0"})
    with pytest.raises(ConfigError) as caught:
        create_app(settings)
    assert "auth.allow_insecure" in str(caught.value)
    check_auth_config(make_settings(auth={"enabled": False}, server={"host": "127.0.0.1"}))
    check_auth_config(
        make_settings(auth={"enabled": False, "allow_insecure": True}, server={"host": "0.0.0.0"})
    )


def test_cli_serve_refuses_auth_off_on_public_bind(tmp_path: Path) -> None:
    result = run_cli(
        "serve",
        "--host",
        "0.0.0.0",
        cwd=tmp_path,
        env={"GATEWAY_AUTH__ENABLED": "false", "GATEWAY_ADMIN_KEY": ADMIN_KEY},
    )
    assert result.returncode == 2
    assert "auth.allow_insecure" in result.stderr
    assert "Traceback" not in result.stderr and ADMIN_KEY not in result.stderr


async def test_preflight_needs_no_key(secured: Client) -> None:
    response = await secured.options(
        "/api/v1/keys",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
    )
    assert response.status == 200


async def test_scopes_on_the_real_routes(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    """Every route group of the assembled app, incl. the provider checks and the console."""
    settings = make_settings(
        admin_key=ADMIN_KEY, health={"enabled": False}, catalog={"prefetch": False}
    )
    client = await aiohttp_client(create_app(settings))
    chat = (await new_key(client, scopes=["chat"]))["key"]
    models = (await new_key(client, scopes=["models"]))["key"]
    body = {"model": "nowhere", "messages": [{"role": "user", "content": "hi"}]}
    # (method, path, json, {key: expected status}); 404 = let through, nothing found.
    cases: list[tuple[str, str, Any, dict[str | None, int]]] = [
        ("GET", "/api/v1/health", None, {None: 200}),
        ("GET", "/api/v1/openapi.json", None, {None: 200}),
        ("GET", "/ui/", None, {None: 200}),
        ("GET", "/v1/models", None, {None: 401, chat: 200, models: 200, ADMIN_KEY: 200}),
        ("POST", "/v1/chat/completions", body, {None: 401, chat: 404, models: 403}),
        ("POST", "/v1/embeddings", {"model": "nowhere", "input": "hi"},
         {None: 401, chat: 404, models: 403}),
        ("GET", "/api/v1/providers", None, {None: 401, chat: 403, ADMIN_KEY: 200}),
        ("GET", "/api/v1/templates", None, {chat: 403, models: 403, ADMIN_KEY: 200}),
        ("GET", "/api/v1/keys", None, {chat: 403, ADMIN_KEY: 200}),
        ("GET", "/api/v1/providers/p/models", None, {None: 401, chat: 403, ADMIN_KEY: 404}),
        ("POST", "/api/v1/providers/p/models/refresh", None, {chat: 403, ADMIN_KEY: 404}),
        ("GET", "/api/v1/providers/p/health", None, {models: 403, ADMIN_KEY: 404}),
        ("POST", "/api/v1/providers/p/test", None, {chat: 403, ADMIN_KEY: 404}),
    ]  # fmt: skip
    for method, path, payload, expected in cases:
        for key, status in expected.items():
            headers = bearer(key) if key else {}
            response = await client.request(method, path, json=payload, headers=headers)
            assert response.status == status, (method, path, key == ADMIN_KEY, key == chat)
            if status in (401, 403):
                code = "invalid_api_key" if status == 401 else "permission_denied"
                assert_openai_error(await response.json(), code)
