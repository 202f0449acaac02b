"""Async tests here run on asyncio's loop and on uvloop (whose transports differ), and
those that take ``make_client`` or ``pool`` against both clients of the boundary."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import pytest
import uvloop

from benchmarks.aiohttp_client import AiohttpClient
from gateway.http import ConnectionPool
from gateway.security.ssrf import GuardedResolver
from gateway.settings import UpstreamSettings
from gateway.transport import Transport
from gateway.upstream import own_client
from tests.http.servers import Handler, RawServer, StartServer, Tracker


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"asyncio": asyncio.SelectorEventLoop, "uvloop": uvloop.new_event_loop}


Client = Transport
CLIENT_KINDS = ("own", "aiohttp")
"""The gateway's own client and aiohttp's ClientSession behind the same boundary."""


@pytest.fixture(params=CLIENT_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


MakeClient = Callable[..., Client]


@pytest.fixture
async def make_client(kind: str) -> AsyncIterator[MakeClient]:
    """Builds a client of this test's kind from UpstreamSettings fields; closes them after."""
    made: list[Client] = []

    def make(
        *, guard: GuardedResolver | None = None, user_agent: str = "llm-gateway", **fields: Any
    ) -> Client:
        settings = UpstreamSettings(**fields)
        factory = own_client if kind == "own" else AiohttpClient
        client = factory(settings, guard, user_agent)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
async def raw_server() -> AsyncIterator[StartServer]:
    servers: list[RawServer] = []

    async def start(
        handler: Handler, tracker: Tracker | None = None, tls: ssl.SSLContext | None = None
    ) -> RawServer:
        server = RawServer(handler, tracker)
        await server.start(tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def pool(make_client: MakeClient) -> Client:
    return make_client(pool_size=10)


@pytest.fixture
async def own_pool() -> AsyncIterator[ConnectionPool]:
    """For the cases about the own client's internals."""
    pool = ConnectionPool(limit=10)
    yield pool
    await pool.close()


def in_use(client: Client) -> int:
    """Connections a request holds now."""
    if isinstance(client, ConnectionPool):
        return client._active
    assert isinstance(client, AiohttpClient)
    connector = client._session.connector
    assert isinstance(connector, aiohttp.TCPConnector)
    return len(connector._acquired)


def idle(client: Client) -> int:
    """Connections kept open for the next request."""
    if isinstance(client, ConnectionPool):
        return sum(len(origin.idle) for origin in client._origins.values())
    assert isinstance(client, AiohttpClient)
    connector = client._session.connector
    assert isinstance(connector, aiohttp.TCPConnector)
    return sum(len(conns) for conns in connector._conns.values())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "aiohttp_differs(reason): aiohttp's client fails this case; asserted (strict xfail)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """aiohttp's client (which does not ship) runs on asyncio's loop only; the gateway's on
    both. A case marked ``aiohttp_differs`` must fail against aiohttp's client: the
    differences the README reports are checked, not just claimed."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_aiohttp = callspec is not None and callspec.params.get("kind") == "aiohttp"
        if on_aiohttp and callspec.id.startswith("uvloop"):
            dropped.append(item)
            continue
        marker = item.get_closest_marker("aiohttp_differs")
        if marker is not None and on_aiohttp:
            item.add_marker(pytest.mark.xfail(strict=True, reason=marker.args[0]))
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
