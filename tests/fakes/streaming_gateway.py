"""``python -m gateway`` plus one slow streaming route, for the graceful-shutdown test.

The product has no slow route of its own yet, so this runs the real CLI and the
real server with the app from ``create_app`` and one extra route that streams
numbered chunks with a pause between them, the way a long chat completion does.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web

import gateway.server
from gateway.app import create_app
from gateway.cli import main
from gateway.endpoints import Operation, add_route
from gateway.logs import AccessLog
from gateway.settings import Settings

CHUNKS = 8
PAUSE_S = 0.25


async def slow_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    for index in range(CHUNKS):
        await response.write(f"chunk {index}\n".encode())
        await asyncio.sleep(PAUSE_S)
    await response.write(b"done\n")
    await response.write_eof()
    return response


def create_app_with_slow_route(
    settings: Settings, access_log: AccessLog | None = None
) -> web.Application:
    app = create_app(settings, access_log)
    operation = Operation(summary="test-only slow stream", tag="test", responses={200: "ok"})
    add_route(app, "GET", "/api/v1/test/slow", slow_stream, group="default", operation=operation)
    return app


if __name__ == "__main__":
    gateway.server.create_app = create_app_with_slow_route  # type: ignore[assignment]
    sys.exit(main(sys.argv[1:]))
