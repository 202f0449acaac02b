"""CORS: configured origins get preflights and exposed headers; others get nothing."""

from __future__ import annotations

from collections.abc import Callable

from gateway.settings import Settings
from tests.conftest import AppClient
from tests.middleware.test_auth import ADMIN_KEY

UI = "http://localhost:5173"
EVIL = "https://evil.example"


async def test_preflight_allowed_and_denied(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    from gateway.app import create_app

    client = await aiohttp_client(create_app(make_settings(admin_key=ADMIN_KEY)))
    preflight = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type, X-API-Key",
    }
    response = await client.options("/api/v1/keys", headers=preflight)
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == UI
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "x-api-key"} <= set(
        allowed.replace(" ", "").split(",")
    )
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers

    denied = await client.options("/api/v1/keys", headers={**preflight, "Origin": EVIL})
    assert denied.status == 403
    assert not [name for name in denied.headers if name.lower().startswith("access-control-")]

    response = await client.get("/api/v1/keys", headers={"Origin": UI, "X-API-Key": ADMIN_KEY})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == UI
    exposed = response.headers["Access-Control-Expose-Headers"]
    for name in ("X-Request-ID", "X-RateLimit-Remaining", "X-Gateway-Provider"):
        assert name in exposed

    # Errors reach the browser's script too (a 401 it can show).
    response = await client.get("/api/v1/keys", headers={"Origin": UI})
    assert response.status == 401
    assert response.headers["Access-Control-Allow-Origin"] == UI

    response = await client.get("/api/v1/health", headers={"Origin": EVIL})
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_origins_come_from_settings(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    from gateway.app import create_app

    settings = make_settings(cors={"origins": ["https://ui.example"]})
    client = await aiohttp_client(create_app(settings))
    for origin, allowed in ((UI, False), ("https://ui.example", True)):
        response = await client.get("/api/v1/health", headers={"Origin": origin})
        assert ("Access-Control-Allow-Origin" in response.headers) is allowed


async def test_default_origins_follow_the_gateway_port(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    from gateway.app import create_app

    client = await aiohttp_client(create_app(make_settings(server={"port": 9123})))
    for origin, allowed in (
        (UI, True),
        ("http://127.0.0.1:9123", True),
        ("http://localhost:9123", True),
        ("http://127.0.0.1:8080", False),
    ):
        response = await client.get("/api/v1/health", headers={"Origin": origin})
        assert ("Access-Control-Allow-Origin" in response.headers) is allowed, origin


async def test_exactly_the_documented_headers_are_allowed_and_exposed(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    from gateway.app import create_app

    client = await aiohttp_client(create_app(make_settings(admin_key=ADMIN_KEY)))
    wanted = "Authorization, Content-Type, X-API-Key, X-Request-ID, X-Gateway-Provider"
    preflight = {"Origin": UI, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": wanted}  # fmt: skip
    response = await client.options("/v1/chat/completions", headers=preflight)
    assert response.status == 200
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert allowed == {h.strip().lower() for h in wanted.split(",")}
    assert "POST" in response.headers["Access-Control-Allow-Methods"]

    other = {**preflight, "Access-Control-Request-Headers": "X-Evil"}
    refused = await client.options("/v1/chat/completions", headers=other)
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in refused.headers

    answer = await client.get("/api/v1/keys", headers={"Origin": UI, "X-API-Key": ADMIN_KEY})
    exposed = {h.strip() for h in answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
            "X-Gateway-Provider"} <= exposed  # fmt: skip
    assert "Access-Control-Allow-Credentials" not in answer.headers
