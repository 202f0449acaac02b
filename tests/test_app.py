"""Every error, from every layer, in OpenAI's shape; request ids echoed or generated."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.endpoints import Operation, add_route
from gateway.settings import Settings
from tests.conftest import AppClient


def assert_openai_error(body: dict[str, object], code: str | None = None) -> dict[str, object]:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


async def test_health_ok(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert body["uptime_s"] >= 0
    assert body["version"]


async def test_unknown_route_is_404_in_openai_shape(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/nowhere")
    assert response.status == 404
    assert_openai_error(await response.json(), "not_found")


async def test_wrong_method_is_405_with_allow(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.delete("/api/v1/health")
    assert response.status == 405
    # OPTIONS is the CORS preflight handler.
    assert response.headers["Allow"] == "GET, OPTIONS"
    assert_openai_error(await response.json(), "method_not_allowed")


def _echo_app(settings: Settings) -> web.Application:
    app = create_app(settings)

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    op = Operation(summary="test", tag="test", responses={200: "ok"})
    add_route(app, "POST", "/api/v1/test/echo", echo, group="default", operation=op)
    add_route(app, "GET", "/api/v1/test/boom", boom, group="default", operation=op)
    return app


async def test_oversized_body_is_413(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    client = await aiohttp_client(_echo_app(make_settings(body_limits={"default_bytes": 2048})))
    response = await client.post("/api/v1/test/echo", data=b"x" * 4096)
    assert response.status == 413
    assert_openai_error(await response.json(), "payload_too_large")

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(4):
            yield b"y" * 1024

    response = await client.post("/api/v1/test/echo", data=chunks())
    assert response.status == 413
    assert_openai_error(await response.json(), "payload_too_large")

    response = await client.post("/api/v1/test/echo", data=b"z" * 1000)
    assert response.status == 200
    assert await response.read() == b"z" * 1000


async def test_unexpected_exception_is_500_without_internals(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await aiohttp_client(_echo_app(make_settings()))
    with caplog.at_level(logging.ERROR):
        response = await client.get("/api/v1/test/boom", headers={"X-Request-ID": "trace-500"})
    assert response.status == 500
    error = assert_openai_error(await response.json(), "internal_error")
    assert "trace-500" in str(error["message"])
    assert "secret internals" not in str(error["message"])
    assert any("secret internals" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_request_id_echoed_when_sane(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/health", headers={"X-Request-ID": "abc-123_x.y"})
    assert response.headers["X-Request-ID"] == "abc-123_x.y"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "ünicode"])
async def test_request_id_replaced_when_insane(client, bad: str) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(
        "/api/v1/health", headers={"X-Request-ID": bad.encode().decode("latin-1")}
    )
    generated = response.headers["X-Request-ID"]
    assert generated != bad
    assert 16 <= len(generated) <= 128


async def test_request_id_generated_and_unique_on_errors(client) -> None:  # type: ignore[no-untyped-def]
    first = await client.get("/missing")
    second = await client.get("/missing")
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    assert first.headers["Server"] == "gateway"
