"""Every security header on every response: success, errors from each layer, streams."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import ClientResponse, web

from gateway.endpoints import add_route
from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.base import API_KEY, Fault
from tests.fakes.openai_upstream import FakeOpenAI
from tests.middleware.probe import OP, probe_app
from tests.middleware.test_auth import ADMIN_KEY, bearer
from tests.providers_d import QUIET, gateway_app

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-site",
}


async def crash(request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


def assert_secured(response: ClientResponse, *, hsts: bool) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.status, name)
    assert response.headers["Server"] == "gateway"  # no version banner
    assert response.headers["X-Request-ID"]
    if hsts:
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    else:
        assert "Strict-Transport-Security" not in response.headers


async def test_headers_on_success_and_every_kind_of_error(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    for hsts in (False, True):
        settings = make_settings(
            admin_key=ADMIN_KEY,
            server={"hsts": hsts},
            rate_limit={"admin_rpm": 1},
            body_limits={"chat_bytes": 1024},
        )
        app = probe_app(settings)
        add_route(app, "GET", "/api/v1/test/crash", crash, group="default", operation=OP)
        client = await aiohttp_client(app)
        responses = {
            200: await client.get("/api/v1/health"),
            401: await client.get("/api/v1/test/chat"),
            404: await client.get("/api/v1/nowhere"),
            405: await client.put("/api/v1/health"),
            413: await client.post(
                "/api/v1/test/fail", data=b"x" * 4096, headers=bearer(ADMIN_KEY)
            ),
            400: await client.post("/api/v1/test/fail", headers=bearer(ADMIN_KEY)),
            500: await client.get("/api/v1/test/crash", headers=bearer(ADMIN_KEY)),
        }
        await client.get("/api/v1/test/admin", headers=bearer(ADMIN_KEY))
        responses[429] = await client.get("/api/v1/test/admin", headers=bearer(ADMIN_KEY))
        responses[-200] = await client.get("/api/v1/test/stream", headers=bearer(ADMIN_KEY))
        for status, response in responses.items():
            assert response.status == abs(status)
            assert_secured(response, hsts=hsts)
        await client.close()


async def test_headers_on_a_real_chat_stream_and_its_upstream_error(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    async with FakeOpenAI() as fake:
        settings = make_settings(**QUIET)
        client = await aiohttp_client(
            gateway_app(settings, {"provider_id": "oa", "base_url": fake.url, "serves": ("m",),
                                   "api_key": API_KEY, "aliases": {"m": "model-a"}})
        )  # fmt: skip
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        streamed = await client.post("/v1/chat/completions", json=body)
        assert streamed.status == 200
        assert streamed.headers["Content-Type"].startswith("text/event-stream")
        assert_secured(streamed, hsts=False)
        assert streamed.headers["X-RateLimit-Limit"]
        await streamed.read()
        fake.fault = Fault(status=500)
        failed = await client.post("/v1/chat/completions", json=body)
        assert failed.status == 502
        assert_secured(failed, hsts=False)
