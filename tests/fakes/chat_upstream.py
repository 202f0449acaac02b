"""A fake OpenAI-compatible upstream: a real aiohttp server speaking OpenAI's wire format.

Its behaviour is chosen by the requested model name, so one server covers every
case without shared state: ``fail-500``, ``fail-429``, ``fail-401``, ``fail-400``,
``malformed``, ``reset-mid-stream``, ``slow-first-byte``, ``slow-stream`` (a chunk
every 100 ms for 30 s), ``tools`` (two streamed tool calls), anything else: a
plain answer "Hello from NAME".
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

RATE_HEADERS = {"x-ratelimit-remaining-requests": "99", "x-ratelimit-limit-tokens": "1000"}
USAGE = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class FakeOpenAI:
    """State of one fake upstream: what it received and when a client went away."""

    name: str
    requests: list[Seen] = field(default_factory=list)
    disconnected_at: float | None = None
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/v1"))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_get("/v1/models", self.models)
        return app

    async def _seen(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        body = orjson.loads(raw) if raw else None
        self.requests.append(Seen(request.path, dict(request.headers), body))
        return body or {}

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._seen(request)
        model = body["model"]
        if model.startswith("fail-"):
            return fail(int(model[5:]))
        if model == "malformed":
            return web.Response(body=b'{"id": "x", "choices": [', content_type="application/json")
        if model == "slow-first-byte":
            await asyncio.sleep(2)
        if body.get("stream"):
            return await self.stream(request, body)
        message: dict[str, Any] = {"role": "assistant", "content": f"Hello from {self.name}"}
        finish = "stop"
        if model == "tools":
            message = {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS}
            finish = "tool_calls"
        answer = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1700000000,
            "model": f"{model}-2024",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": USAGE,
        }
        return web.Response(
            body=orjson.dumps(answer), content_type="application/json", headers=RATE_HEADERS
        )

    async def stream(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        model = body["model"]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **RATE_HEADERS})
        await response.prepare(request)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        try:
            if model == "slow-stream":
                for i in range(300):
                    await response.write(event(chunk({"content": f"{i} "})))
                    await asyncio.sleep(0.1)
            for delta in deltas(model, self.name):
                await response.write(event(chunk(delta)))
                if model == "reset-mid-stream":
                    await asyncio.sleep(0.05)  # the first event is read before the reset
                    await response.write(b'data: {"id": "chatcmpl-fake", "cho')
                    assert request.transport is not None
                    request.transport.abort()
                    return response
            finish = "tool_calls" if model == "tools" else "stop"
            await response.write(event(chunk({}, finish)))
            if include_usage:
                await response.write(event({**chunk({}), "choices": [], "usage": USAGE}))
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnected_at = time.monotonic()
            self.disconnected.set()
            raise
        return response

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await self._seen(request)
        if body["model"].startswith("fail-"):
            return fail(int(body["model"][5:]))
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        answer = {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2, float(i)]}
                for i in range(len(inputs))
            ],
            "model": body["model"],
            "usage": {"prompt_tokens": 3, "total_tokens": 3},
        }
        return web.json_response(answer)

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "gpt-fake"}]})


TOOL_CALLS = [
    {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
    {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
]


def fail(status: int) -> web.Response:
    kind = {400: "invalid_request_error", 401: "invalid_request_error", 429: "rate_limit"}
    body = {
        "error": {
            "message": f"upstream says {status}",
            "type": kind.get(status, "server_error"),
            "param": None,
            "code": None,
        }
    }
    headers = (
        {"retry-after": "7", "retry-after-ms": "6500", **RATE_HEADERS} if status == 429 else {}
    )
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "upstream-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def deltas(model: str, name: str) -> list[dict[str, Any]]:
    if model == "tools":
        # Two tool calls, fragments interleaved: clients must key them by index.
        return [
            {"role": "assistant", "content": None},
            {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                             "function": {"name": "get_weather", "arguments": ""}}]},
            {"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                             "function": {"name": "get_time", "arguments": ""}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
            {"tool_calls": [{"index": 1, "function": {"arguments": '{"tz": "UTC"}'}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        ]  # fmt: skip
    return [
        {"role": "assistant", "content": ""},
        {"content": "Hello "},
        {"content": f"from {name}"},
    ]


async def start_fake(name: str) -> FakeOpenAI:
    fake = FakeOpenAI(name)
    fake.server = TestServer(fake.app(), host="127.0.0.1", handler_cancellation=True)
    await fake.server.start_server()
    return fake
