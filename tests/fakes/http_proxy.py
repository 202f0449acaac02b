"""A small forward HTTP proxy over real sockets: CONNECT tunnels and absolute-form requests.

Usage::

    async with ForwardProxy(credentials="user:pass") as proxy:
        url = proxy.url("user:pass")   # http://user:pass@127.0.0.1:PORT
        ...                            # send through it
        proxy.seen                     # [("CONNECT", "127.0.0.1:443", "Basic ...")]

Without the right ``Proxy-Authorization`` it answers 407. Absolute-form
requests (``GET http://host:port/path``) are forwarded in origin form, one at a
time on a kept-alive upstream connection; CONNECT pipes bytes both ways.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from types import TracebackType
from urllib.parse import urlsplit


class ForwardProxy:
    """Records each request line it gets: (method, target, Proxy-Authorization or None)."""

    def __init__(self, credentials: str | None = None, hosts: dict[str, str] | None = None) -> None:
        """``hosts``: names the proxy resolves itself (the gateway never sees them)."""
        self.credentials = credentials
        self.hosts = hosts or {}
        self.seen: list[tuple[str, str, str | None]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, userinfo: str | None = None) -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}"

    async def __aenter__(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _allowed(self, authorization: str | None) -> bool:
        if self.credentials is None:
            return True
        expected = "Basic " + base64.b64encode(self.credentials.encode()).decode()
        return authorization == expected

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                first, *lines = head[:-4].decode("latin-1").split("\r\n")
                method, target, version = first.split(" ")
                headers = [line.split(":", 1) for line in lines]
                authorization = next(
                    (v.strip() for k, v in headers if k.lower() == "proxy-authorization"), None
                )
                self.seen.append((method, target, authorization))
                if not self._allowed(authorization):
                    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n")
                    writer.write(b"Proxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    return
                if method == "CONNECT":
                    host, port = target.rsplit(":", 1)
                    address = self.hosts.get(host, host.strip("[]"))
                    up_reader, up_writer = await asyncio.open_connection(address, port)
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
                    return
                parts = urlsplit(target)
                if upstream is None:
                    address = self.hosts.get(parts.hostname or "", parts.hostname)
                    upstream = await asyncio.open_connection(address, parts.port or 80)
                kept = [f"{k}:{v}" for k, v in headers if not k.lower().startswith("proxy-")]
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                length = _content_length(kept)
                body = await reader.readexactly(length) if length else b""
                forwarded = "\r\n".join([f"{method} {path} {version}", *kept]) + "\r\n\r\n"
                upstream[1].write(forwarded.encode("latin-1") + body)
                answer = await upstream[0].readuntil(b"\r\n\r\n")
                answer_length = _content_length(answer.decode("latin-1").split("\r\n"))
                writer.write(answer + await upstream[0].readexactly(answer_length))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            if upstream is not None:
                upstream[1].close()
            writer.close()
            self._tasks.discard(task)


def _content_length(lines: list[str]) -> int:
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value)
    return 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
