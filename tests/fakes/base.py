"""What every fake upstream shares: a real aiohttp server, recording, faults, scripted replies.

Usage (any of the three fakes)::

    async with FakeOpenAI() as fake:              # or FakeAnthropic(), FakeGemini()
        target = fake.target()                    # a gateway Target pointing at it
        fake.reply = Reply(text="hi", tool_calls=[("get_weather", {"city": "Paris"})])
        fake.fault = Fault(status=429)            # or malformed=True, reset_after=2, ...
        ...                                       # send requests (gateway or adapter)
        fake.requests[-1].headers["Authorization"] # what it received
        await asyncio.wait_for(fake.disconnected.wait(), 1)  # client went away mid-stream

Each fake checks its provider's auth header against ``api_key`` (401 in the
provider's error shape otherwise) and answers in the provider's real wire format.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from gateway.adapters.base import Target

API_KEY = "sk-fake-upstream-key-0123456789"


@dataclass
class Reply:
    """What the fake model answers."""

    text: str = "Hello there, friend."
    reasoning: str = ""
    """Anthropic thinking / Gemini thought text, sent before the answer."""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish: str | None = None
    """Provider-native finish/stop reason; None: the natural one."""
    prompt_tokens: int = 12
    completion_tokens: int = 7
    cached_tokens: int = 0
    """Of prompt_tokens, read from the prompt cache (each provider's own field)."""
    cache_write_tokens: int = 0
    """Of prompt_tokens, written to the prompt cache (Anthropic only)."""
    reasoning_tokens: int = 0
    """Of completion_tokens, spent thinking (Gemini's thoughtsTokenCount, OpenAI's details)."""
    finish_message: str | None = None
    """Gemini's finishMessage."""


@dataclass
class Fault:
    """Misbehaviour to inject; the default is none."""

    status: int | None = None
    """Answer every request with this status and the provider's error body."""
    malformed: bool = False
    """Broken JSON: as the whole body, or as the second stream event."""
    reset_after: int | None = None
    """Stream this many events, then reset the connection."""
    error_event_after: int | None = None
    """Stream this many events, then the provider's in-stream error event."""
    first_byte_delay: float = 0.0
    """Seconds before the status and headers."""
    first_event_delay: float = 0.0
    """Seconds between a stream's headers and its first event."""
    chunk_delay: float = 0.0
    oversized_event_at: int | None = None
    """Before this stream event, send one whose JSON payload is ``oversized_bytes`` long."""
    oversized_bytes: int = 0
    echo_credentials: bool = False
    """Error messages (answers and in-stream events) quote the credentials received, as
    OpenAI's "Incorrect API key provided: sk-..." does."""


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.raw) if self.raw else None


ERROR_MESSAGES = {
    400: "Invalid request: bad parameter",
    401: "Invalid API key",
    404: "Model not found",
    429: "Rate limit exceeded, slow down",
    500: "Internal server error",
    503: "Service overloaded",
}


CREDENTIAL_HEADERS = ("Authorization", "x-api-key", "x-goog-api-key", "api-key")


def split_text(text: str, pieces: int = 3) -> list[str]:
    """Text cut into a few stream fragments (never empty)."""
    step = max(1, -(-len(text) // pieces))
    return [text[i : i + step] for i in range(0, len(text), step)] or [""]


class FakeUpstream:
    """Base: subclasses add routes and the provider's bodies."""

    prefix = ""
    """Path prefix of the API (part of the base URL)."""
    model_ids: tuple[str, ...] = ("model-a", "model-b", "model-c")

    def __init__(self, *, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.reply = Reply()
        self.replies: list[Reply] = []
        """Replies for the next chat requests, one each, before ``reply`` takes over."""
        self.fault = Fault()
        self.requests: list[Recorded] = []
        self.models_page_size = 2
        self.disconnected = asyncio.Event()
        self.app = web.Application()
        self.add_routes(self.app)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # subclass hooks ----------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def auth_ok(self, request: web.Request) -> bool:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> Any:
        raise NotImplementedError

    def target(self) -> Target:
        raise NotImplementedError

    # lifecycle ---------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    async def start(self) -> FakeUpstream:
        self._runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeUpstream:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # shared request handling -------------------------------------------------
    async def record(self, request: web.Request) -> Recorded:
        recorded = Recorded(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            await request.read(),
        )
        self.requests.append(recorded)
        return recorded

    def error(self, status: int, message: str | None = None) -> web.Response:
        body = self.error_body(status, self.said(message or ERROR_MESSAGES.get(status, "error")))
        return web.json_response(body, status=status)

    def said(self, message: str) -> str:
        """An error message, quoting the last request's credentials when the fault says so."""
        if not self.fault.echo_credentials or not self.requests:
            return message
        headers = self.requests[-1].headers
        sent = [f"{name}: {headers[name]}" for name in CREDENTIAL_HEADERS if name in headers]
        return f"{message}. Incorrect API key provided: {self.api_key} ({'; '.join(sent)})"

    async def gate(self, request: web.Request) -> web.Response | None:
        """Record, delay, fail: the answer to send instead of the real one, if any."""
        await self.record(request)
        if self.fault.first_byte_delay:
            try:
                await asyncio.sleep(self.fault.first_byte_delay)
            except asyncio.CancelledError:
                self.disconnected.set()
                raise
        if not self.auth_ok(request):
            return self.error(401)
        if self.fault.status:
            return self.error(self.fault.status)
        return None

    def take_reply(self) -> Reply:
        """The reply for this chat request (the next queued one, if any)."""
        if self.replies:
            self.reply = self.replies.pop(0)
        return self.reply

    def json(self, body: Any) -> web.Response:
        if self.fault.malformed:
            return web.Response(
                body=b'{"id": "broken", "choices": [', content_type="application/json"
            )
        return web.json_response(body)

    async def stream(
        self, request: web.Request, events: Iterator[bytes], error: bytes
    ) -> web.StreamResponse:
        """Send SSE events with the configured faults; notice a client going away."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            if self.fault.first_event_delay:
                await asyncio.sleep(self.fault.first_event_delay)
            for n, event in enumerate(events):
                if n == self.fault.reset_after:
                    _reset(request)
                    return response
                if n == self.fault.oversized_event_at:
                    pad = b"x" * max(self.fault.oversized_bytes - 10, 0)
                    await response.write(b'data: {"pad":"' + pad + b'"}\n\n')
                if n == self.fault.error_event_after:
                    await response.write(error)
                    break
                await response.write(
                    b"data: {not json\n\n" if self.fault.malformed and n == 1 else event
                )
                if self.fault.chunk_delay:
                    await asyncio.sleep(self.fault.chunk_delay)
            await response.write_eof()
        except (asyncio.CancelledError, ConnectionError):
            self.disconnected.set()
            raise
        return response


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP reset (SO_LINGER 0), as a crashed upstream would."""
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
