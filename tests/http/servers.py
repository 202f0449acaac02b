"""Raw servers for the client tests: hand-crafted bytes over real sockets on 127.0.0.1.

aiohttp test servers give well-formed answers; raw asyncio servers write
hand-crafted bytes (chunked, until-close, 1xx, gzip, malformed, resets) and
report what they saw: connections, concurrency, disconnects.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.transport import Timeouts, Transport, UpstreamResponse

QUICK = Timeouts(connect=2, first_byte=2, idle=2, total=5)
"""Generous enough never to fire in a test that is not about timeouts."""


# -- servers -----------------------------------------------------------------------


class Raw:
    """What a raw server handler needs: the connection's streams and the server's record."""

    def __init__(
        self, server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ):
        self.server = server
        self.reader = reader
        self.writer = writer

    async def request(self) -> bytes:
        """One request (head and body) as bytes; b"" when the client closed instead."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                self.disconnected()
            return b""
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        request = head + await self.reader.readexactly(length)
        self.server.requests.append(request)
        return request

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def wait_disconnect(self) -> None:
        """Until the client closes its end; records it."""
        while await self.reader.read(65536):
            pass
        self.disconnected()

    def disconnected(self) -> None:
        self.server.disconnects += 1
        self.server.disconnected.set()

    def reset(self) -> None:
        """Close with a TCP RST rather than a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Raw], Awaitable[None]]


class RawServer:
    """A TCP server whose handler writes exactly the bytes a test wants."""

    def __init__(self, handler: Handler, tracker: Tracker | None = None) -> None:
        self.handler = handler
        self.tracker = tracker if tracker is not None else Tracker()
        self.connections = 0
        self.disconnects = 0
        self.disconnected = asyncio.Event()
        self.requests: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.tracker.enter()
        try:
            await self.handler(Raw(self, reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.tracker.leave()
            writer.close()
            self._tasks.discard(task)


class Tracker:
    """Counts connections open at once, possibly across servers."""

    def __init__(self) -> None:
        self.open = 0
        self.most = 0

    def enter(self) -> None:
        self.open += 1
        self.most = max(self.most, self.open)

    def leave(self) -> None:
        self.open -= 1


StartServer = Callable[..., Awaitable[RawServer]]


def answers(*responses: bytes) -> Handler:
    """A handler that answers each request on a connection with the next of ``responses``."""

    async def handle(raw: Raw) -> None:
        for response in responses:
            if not await raw.request():
                return
            await raw.send(response)
        await raw.wait_disconnect()

    return handle


def reset_after(partial: bytes) -> Handler:
    """A handler that sends ``partial`` (a head and part of a body), then resets the connection."""

    async def handle(raw: Raw) -> None:
        await raw.request()
        await raw.send(partial)
        await asyncio.sleep(0.05)
        raw.reset()

    return handle


def ok(body: bytes = b"ok", *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(body), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def get(pool: Transport, url: str, timeouts: Timeouts = QUICK) -> UpstreamResponse:
    return await pool.request("GET", url, {}, None, timeouts)


async def get_body(pool: Transport, url: str, timeouts: Timeouts = QUICK) -> bytes:
    return await (await get(pool, url, timeouts)).read()


async def settle() -> None:
    """Let the loop deliver what the other end did (an EOF, a close)."""
    for _ in range(5):
        await asyncio.sleep(0.01)


def self_signed(tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context
