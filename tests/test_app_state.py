"""Two apps in one process share no state: each masks its own secrets, refuses them as request
ids, and writes its own access lines; neither sees the other's (tests start many apps)."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Callable

from aiohttp import web

from gateway.app import create_app
from gateway.endpoints import Operation, add_route
from gateway.errors import InvalidRequest
from gateway.middleware.access_log import ACCESS_LOG
from gateway.settings import Settings
from tests.conftest import AppClient

FIRST = "first-app-admin-value"
SECOND = "second-app-admin-value"


async def echo(request: web.Request) -> web.Response:
    raise InvalidRequest(f"upstream said {FIRST} and {SECOND}")


def app_with(settings: Settings, stream: io.StringIO) -> web.Application:
    app = create_app(settings)
    op = Operation(summary="test", tag="test", responses={400: "error"})
    add_route(app, "GET", "/api/v1/test/echo", echo, group="default", operation=op)
    app[ACCESS_LOG].configure(stream, json=True, enabled=True)
    return app


async def test_two_apps_keep_their_secrets_and_access_lines_apart(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    streams = io.StringIO(), io.StringIO()
    one = await aiohttp_client(
        app_with(make_settings(admin_key=FIRST, auth={"enabled": False}), streams[0])
    )
    two = await aiohttp_client(
        app_with(make_settings(admin_key=SECOND, auth={"enabled": False}), streams[1])
    )
    for client, own, other in ((one, FIRST, SECOND), (two, SECOND, FIRST)):
        answer = await client.get("/api/v1/test/echo", headers={"X-Request-ID": other})
        message = (await answer.json())["error"]["message"]
        assert own not in message and "***" in message
        assert other in message  # the other app's value is no secret of this one
        assert answer.headers["X-Request-ID"] == other
        refused = await client.get("/api/v1/test/echo", headers={"X-Request-ID": own})
        assert re.fullmatch(r"[0-9a-f]{24}", refused.headers["X-Request-ID"])
    await asyncio.sleep(0)  # access lines leave at the end of the loop turn
    for stream, own, other in ((streams[0], FIRST, SECOND), (streams[1], SECOND, FIRST)):
        ids = [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()]
        assert len(ids) == 2 and ids[0] == other  # this app's two requests, and only those
        assert own not in ids
