"""The proxy's ClientFormat hook, through a small format of the test's own on a real route.

The format answers ``{"said": text, "tokens": n}``, streams ``event: said`` events and
ends with ``event: over``; its error event is ``event: oops``. Providers whose template
has a ``responses`` path get the body natively (the fake's /v1/responses).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.adapters.base import JSON, StreamUsage, TemplatePaths
from gateway.endpoints import Operation, add_route
from gateway.providers.router import ROUTER
from gateway.proxy.complete import complete_as
from gateway.proxy.stream import stream_as
from gateway.routes.common import read_json_object
from gateway.settings import Settings
from gateway.usage import USAGE_HOOKS
from gateway.validation import ChatParams
from tests.conftest import AppClient
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import API_KEY, Fault
from tests.fakes.openai_upstream import FakeOpenAI
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app

Client = TestClient[web.Request, web.Application]


class Said:
    """The test's client format."""

    def __init__(self, body: JSON) -> None:
        self.body = body

    def native_path(self, paths: TemplatePaths) -> str | None:
        return paths.responses

    def native_headers(self) -> dict[str, str]:
        return {}

    def native_body(self, upstream_model: str) -> bytes:
        return orjson.dumps({**self.body, "model": upstream_model})

    def native_answer(self, payload: bytes) -> JSON:
        answer = orjson.loads(payload)
        text = answer["output"][0]["content"][0]["text"]
        return {"said": text, "tokens": answer["usage"]["output_tokens"], "native": True}

    def native_usage(self, answer: JSON) -> StreamUsage:
        return StreamUsage(completion_tokens=answer["tokens"])

    def watch_native(self, events: bytes, usage: list[StreamUsage]) -> None:
        for block in events.split(b"\n\n"):
            if block.startswith(b"event: response.completed"):
                done = orjson.loads(block.split(b"data: ", 1)[1])
                usage.append(StreamUsage.from_openai({
                    "prompt_tokens": done["response"]["usage"]["input_tokens"],
                    "completion_tokens": done["response"]["usage"]["output_tokens"],
                }))  # fmt: skip

    def chat_request(self) -> tuple[JSON, bytes, ChatParams]:
        body = {
            "model": self.body["model"],
            "messages": [{"role": "user", "content": self.body["input"]}],
            "stream_options": {"include_usage": True},
        }
        return body, orjson.dumps(body), ChatParams(self.body["model"], True, True)

    def answer(self, completion: JSON) -> JSON:
        return {
            "said": completion["choices"][0]["message"]["content"],
            "tokens": completion["usage"]["completion_tokens"],
        }

    async def events(
        self, chunks: AsyncIterator[JSON], usage: list[StreamUsage]
    ) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            for choice in chunk["choices"]:
                if choice["delta"].get("content"):
                    yield (
                        b"event: said\ndata: " + orjson.dumps(choice["delta"]["content"]) + b"\n\n"
                    )
        tokens = usage[-1].completion_tokens if usage else 0
        yield b"event: over\ndata: " + orjson.dumps({"tokens": tokens}) + b"\n\n"

    def error_event(self, error: JSON) -> bytes:
        return b"event: oops\ndata: " + orjson.dumps(error["error"]) + b"\n\n"


async def said(request: web.Request) -> web.StreamResponse:
    body, _ = await read_json_object(request)
    candidates = request.app[ROUTER].candidates(body["model"], None)
    if body.get("stream"):
        return await stream_as(request, candidates, Said(body))
    return await complete_as(request, candidates, Said(body))


@pytest.fixture
async def upstreams() -> AsyncIterator[tuple[FakeOpenAI, FakeAnthropic]]:
    async with FakeOpenAI() as openai, FakeAnthropic() as anthropic:
        yield openai, anthropic


@pytest.fixture
def usage() -> list[tuple[str, StreamUsage]]:
    return []


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    upstreams: tuple[FakeOpenAI, FakeAnthropic],
    usage: list[tuple[str, StreamUsage]],
) -> Client:
    """``native`` (OpenAI template), ``claude`` (Anthropic, translated), and ``both`` (in turn)."""
    openai, anthropic = upstreams
    app = gateway_app(
        make_settings(**QUIET),
        {"provider_id": "oa", "base_url": openai.url, "api_key": API_KEY,
         "serves": ("native", "both"), "priority": 2},
        {"provider_id": "an", "base_url": anthropic.url.removesuffix("/v1"),
         "template": "anthropic", "api_key": API_KEY, "serves": ("claude", "both"),
         "priority": 1},
    )  # fmt: skip
    add_route(app, "POST", "/said", said, group="chat", operation=Operation("test", "test", {}))
    app[USAGE_HOOKS].append(lambda _r, pid, _m, seen: usage.append((pid, seen)))
    return await aiohttp_client(app, server_kwargs=SERVER_KWARGS)


def events_of(raw: bytes) -> list[tuple[str, Any]]:
    out = []
    for block in raw.split(b"\n\n"):
        if block.startswith(b"event: "):
            name, data = block.split(b"\n", 1)
            out.append((name[7:].decode(), orjson.loads(data.removeprefix(b"data: "))))
    return out


async def test_translated_answer_and_stream(
    gateway: Client, upstreams: tuple[FakeOpenAI, FakeAnthropic], usage: list[Any]
) -> None:
    reply = await gateway.post("/said", json={"model": "claude", "input": "hi"})
    assert reply.status == 200 and reply.headers["X-Gateway-Provider"] == "an"
    assert await reply.json() == {"said": "Hello there, friend.", "tokens": 7}
    streamed = await gateway.post("/said", json={"model": "claude", "input": "hi", "stream": True})
    events = events_of(await streamed.read())
    assert "".join(data for name, data in events if name == "said") == "Hello there, friend."
    assert events[-1] == ("over", {"tokens": 7})
    assert b"[DONE]" not in await streamed.read()
    assert [(pid, seen.completion_tokens) for pid, seen in usage] == [("an", 7), ("an", 7)]
    assert upstreams[1].requests[-1].path == "/v1/messages"


async def test_native_answer_and_stream_go_to_the_template_path(
    gateway: Client, upstreams: tuple[FakeOpenAI, FakeAnthropic], usage: list[Any]
) -> None:
    reply = await gateway.post("/said", json={"model": "native", "input": "hi", "extra": 1})
    assert await reply.json() == {"said": "Hello there, friend.", "tokens": 7, "native": True}
    sent = upstreams[0].requests[-1]
    assert sent.path == "/v1/responses" and sent.json == {"model": "native", "input": "hi",
                                                          "extra": 1}  # fmt: skip
    streamed = await gateway.post("/said", json={"model": "native", "input": "hi", "stream": True})
    raw = await streamed.read()
    names = [name for name, _ in events_of(raw)]
    assert names[0] == "response.created" and names[-1] == "response.completed"
    assert [e["sequence_number"] for _, e in events_of(raw)] == list(range(len(names)))
    assert [(pid, seen.prompt_tokens) for pid, seen in usage] == [("oa", 0), ("oa", 12)]


async def test_fallback_from_native_to_translated_and_error_events(
    gateway: Client, upstreams: tuple[FakeOpenAI, FakeAnthropic]
) -> None:
    openai, anthropic = upstreams
    openai.fault = Fault(status=503)
    reply = await gateway.post("/said", json={"model": "both", "input": "hi"})
    assert reply.headers["X-Gateway-Provider"] == "an"
    assert (await reply.json())["said"] == "Hello there, friend."
    openai.fault = Fault(status=503)
    anthropic.fault = Fault(error_event_after=3)
    streamed = await gateway.post("/said", json={"model": "both", "input": "hi", "stream": True})
    events = events_of(await streamed.read())
    assert events[-1][0] == "oops" and events[-1][1]["message"]
    assert all(name in ("said", "oops") for name, _ in events)
