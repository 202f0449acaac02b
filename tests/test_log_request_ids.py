"""Every log line written while a request runs carries that request's id."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.endpoints import Operation, add_route
from gateway.logs import configure_logging
from gateway.middleware.access_log import ACCESS_LOG
from gateway.settings import Settings
from tests.conftest import AppClient

handler_logger = logging.getLogger("gateway.test.handler")


@pytest.fixture
def json_log(make_settings: Callable[..., Settings]) -> Iterator[io.StringIO]:
    """The gateway's own production log set-up, writing to a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(make_settings(logging={"format": "json", "level": "INFO"}).logging)
    stream = io.StringIO()
    installed = root.handlers[-1]
    assert isinstance(installed, logging.StreamHandler)
    installed.setStream(stream)
    yield stream
    root.removeHandler(installed)
    for old in saved[0]:
        root.addHandler(old)
    root.setLevel(saved[1])


async def test_request_id_is_on_every_line_of_a_request(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], json_log: io.StringIO
) -> None:
    app = create_app(make_settings(logging={"format": "json"}))
    app[ACCESS_LOG].configure(json_log, json=True, enabled=True)  # the access line's own writer

    async def chatty(request: web.Request) -> web.Response:
        handler_logger.info("working on it")
        handler_logger.warning("still working")
        return web.Response(text="ok")

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("kaput")

    op = Operation(summary="test", tag="test", responses={200: "ok"})
    add_route(app, "GET", "/api/v1/test/chatty", chatty, group="default", operation=op)
    add_route(app, "GET", "/api/v1/test/boom", boom, group="default", operation=op)
    client = await aiohttp_client(app)

    first = await client.get("/api/v1/test/chatty", headers={"X-Request-ID": "req-one"})
    assert first.status == 200
    second = await client.get("/api/v1/test/boom", headers={"X-Request-ID": "req-two"})
    assert second.status == 500
    third = await client.get("/api/v1/test/chatty")
    generated = third.headers["X-Request-ID"]
    await client.close()

    records = [json.loads(line) for line in json_log.getvalue().splitlines()]
    by_id: dict[str, list[str]] = {}
    for record in records:
        if record["logger"] in ("gateway.access", "gateway.errors", handler_logger.name):
            by_id.setdefault(record["request_id"], []).append(record["logger"])
    assert by_id == {
        "req-one": [handler_logger.name, handler_logger.name, "gateway.access"],
        "req-two": ["gateway.errors", "gateway.access"],
        generated: [handler_logger.name, handler_logger.name, "gateway.access"],
    }
    traceback = next(r for r in records if r["logger"] == "gateway.errors")
    assert "kaput" in traceback["exc"]


async def test_a_client_that_leaves_is_logged_as_499(
    make_settings: Callable[..., Settings], json_log: io.StringIO
) -> None:
    """A cancelled handler is the client's doing: status 499, not a 500."""
    import aiohttp
    from aiohttp.test_utils import TestServer

    app = create_app(make_settings(logging={"format": "json"}))
    app[ACCESS_LOG].configure(json_log, json=True, enabled=True)  # the access line's own writer
    entered = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await asyncio.sleep(30)
        return web.Response(text="late")

    op = Operation(summary="test", tag="test", responses={200: "ok"})
    add_route(app, "GET", "/api/v1/test/slow", slow, group="default", operation=op)
    async with TestServer(app, handler_cancellation=True) as server:
        async with aiohttp.ClientSession() as session:
            fetch = asyncio.create_task(
                session.get(server.make_url("/api/v1/test/slow"), headers={"X-Request-ID": "gone"})
            )
            await asyncio.wait_for(entered.wait(), 5)
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetch
        for _ in range(100):
            if '"request_id":"gone"' in json_log.getvalue():
                break
            await asyncio.sleep(0.02)
    line = next(json.loads(text) for text in json_log.getvalue().splitlines() if '"gone"' in text)
    assert line["status"] == 499
    assert line["route"] == "/api/v1/test/slow"
