"""Browsers: CORS answers vary by Origin, production allows no origin by default, and a
gateway without auth on loopback answers only loopback Host names (no DNS rebinding)."""

from __future__ import annotations

from collections.abc import Callable

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import TEST_SECRET_KEY, AppClient

UI = "http://localhost:5173"
ADMIN_KEY = "adm-origin-test-0123456789abcdef0123456789"


async def test_cors_answers_vary_by_origin(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    client = await aiohttp_client(create_app(make_settings()))
    for origin in (UI, "https://evil.example"):
        answer = await client.get("/api/v1/health", headers={"Origin": origin})
        assert "Origin" in answer.headers.getall("Vary")


def test_production_allows_no_origin_unless_configured(
    make_settings: Callable[..., Settings],
) -> None:
    production = {"env": "production", "admin_key": ADMIN_KEY, "secret_key": TEST_SECRET_KEY}
    assert make_settings(**production).allowed_origins == []
    configured = make_settings(**production, cors={"origins": ["https://app.example"]})
    assert configured.allowed_origins == ["https://app.example"]
    assert UI in make_settings(env="development").allowed_origins


async def test_auth_off_accepts_only_loopback_host_names(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    client = await aiohttp_client(create_app(make_settings(env="development")))
    port = client.port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost"):
        answer = await client.get("/api/v1/providers", headers={"Host": host})
        assert answer.status == 200, host
    for host in ("evil.example", f"rebind.attacker.example:{port}", "127.0.0.1.evil.example"):
        refused = await client.post("/api/v1/keys", json={"name": "stolen"}, headers={"Host": host})
        assert refused.status == 403, host
        assert (await refused.json())["error"]["code"] == "host_not_allowed"
    # With auth on, the Host header is the proxy's business.
    secured = await aiohttp_client(create_app(make_settings(admin_key=ADMIN_KEY)))
    answer = await secured.get("/api/v1/health", headers={"Host": "gateway.example"})
    assert answer.status == 200
