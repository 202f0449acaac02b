"""413 from Content-Length or while a chunked body streams in, never after reading it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.settings import Settings
from tests.conftest import AppClient
from tests.middleware.probe import probe_app
from tests.middleware.test_auth import ADMIN_KEY


async def raw_exchange(host: str, port: int, head: bytes, body_start: bytes) -> bytes:
    """Send the head and only the start of a body, then read what the server answers."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head + body_start)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=2.0)
        headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=2.0)
        return status_line + headers
    finally:
        writer.close()


async def test_413_from_content_length_without_reading_the_body(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(admin_key=ADMIN_KEY, body_limits={"chat_bytes": 4096})
    client = await aiohttp_client(probe_app(settings))
    server = client.server
    head = (
        "POST /api/v1/test/echo HTTP/1.1\r\n"
        f"Host: {server.host}\r\n"
        f"Authorization: Bearer {ADMIN_KEY}\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 1073741824\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await raw_exchange(str(server.host), int(server.port or 0), head, b'{"a": 1')
    assert answer.startswith(b"HTTP/1.1 413")
    assert loop.time() - started < 2.0  # answered while 1 GiB was still "coming"


async def test_413_while_a_chunked_body_streams_in(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(admin_key=ADMIN_KEY, body_limits={"chat_bytes": 4096})
    client = await aiohttp_client(probe_app(settings))
    server = client.server
    head = (
        "POST /api/v1/test/echo HTTP/1.1\r\n"
        f"Host: {server.host}\r\n"
        f"Authorization: Bearer {ADMIN_KEY}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"x" * 8192
    body_start = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"  # never terminated
    answer = await raw_exchange(str(server.host), int(server.port or 0), head, body_start)
    assert answer.startswith(b"HTTP/1.1 413")


async def test_limits_per_group(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        admin_key=ADMIN_KEY, body_limits={"chat_bytes": 8192, "admin_bytes": 2048}
    )
    client = await aiohttp_client(probe_app(settings))
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert (await client.post("/api/v1/test/echo", data=b"x" * 6000, headers=auth)).status == 200
    response = await client.post("/api/v1/keys", data=b" " * 6000, headers=auth)
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"
