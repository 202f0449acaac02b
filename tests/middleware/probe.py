"""A real app with extra routes in every group, to exercise auth and limits before chat exists."""

from __future__ import annotations

from aiohttp import web

from gateway.app import create_app
from gateway.endpoints import Operation, RouteGroup, add_route
from gateway.errors import InvalidRequest, PermissionDenied
from gateway.keys.principal import PRINCIPAL
from gateway.limits import check_tokens_per_minute, record_tokens
from gateway.settings import Settings

OP = Operation(summary="test probe", tag="test", responses={200: "ok"})


async def whoami(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    return web.json_response({"key_id": principal.key_id, "name": principal.name})


async def use_model(request: web.Request) -> web.Response:
    """The key's model list asked about ``model`` on ``provider`` (default: "p")."""
    model, provider = request.query["model"], request.query.get("provider", "p")
    if not request[PRINCIPAL].allows_route(provider, model):
        raise PermissionDenied("model not allowed", param="model")
    return web.json_response({"model": model})


async def fail(request: web.Request) -> web.Response:
    raise InvalidRequest("always refused", param="anything")


async def stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: one\n\n")
    await response.write_eof()
    return response


async def spend_tokens(request: web.Request) -> web.Response:
    await check_tokens_per_minute(request)
    await record_tokens(request, int(request.query["tokens"]))
    return web.json_response({"ok": True})


async def echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read())


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text="up 1\n")


def probe_app(settings: Settings) -> web.Application:
    app = create_app(settings)
    routes: list[tuple[str, str, RouteGroup, object]] = [
        ("GET", "/api/v1/test/chat", "chat", whoami),
        ("GET", "/api/v1/test/model", "chat", use_model),
        ("GET", "/api/v1/test/models", "models", whoami),
        ("GET", "/api/v1/test/admin", "admin", whoami),
        ("GET", "/api/v1/test/default", "default", whoami),
        ("POST", "/api/v1/test/fail", "chat", fail),
        ("POST", "/api/v1/test/echo", "chat", echo),
        ("GET", "/api/v1/test/stream", "chat", stream),
        ("POST", "/api/v1/test/tokens", "chat", spend_tokens),
        ("GET", "/test/metrics", "metrics", metrics),
    ]
    for method, path, group, handler in routes:
        add_route(app, method, path, handler, group=group, operation=OP)  # type: ignore[arg-type]
    return app
