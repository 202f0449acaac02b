"""Each fake upstream, spoken to through its adapter over real HTTP (aiohttp.ClientSession)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from gateway.adapters import create_adapters
from gateway.adapters.base import Adapter, StreamUsage, Target
from gateway.adapters.sse import iter_data
from gateway.errors import UpstreamError
from tests.adapters.helpers import assemble, events_of, opened, send, send_stream
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import API_KEY, FakeUpstream, Fault, Reply
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI

ADAPTERS = create_adapters()
FAKES = {"openai": FakeOpenAI, "anthropic": FakeAnthropic, "gemini": FakeGemini}
TOOLS = [("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})]
BODY = {
    "model": "client-model",
    "messages": [{"role": "user", "content": "Weather and time?"}],
    "tools": [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n, _ in TOOLS
    ],
    "stream_options": {"include_usage": True},
}


@pytest.fixture(params=sorted(FAKES))
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeUpstream]:
    async with FAKES[request.param]() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def adapter_for(fake: FakeUpstream) -> Adapter:
    name = next(name for name, cls in FAKES.items() if isinstance(fake, cls))
    return ADAPTERS[name]


def test_registry() -> None:
    assert sorted(ADAPTERS) == ["anthropic", "gemini", "openai"]
    assert all(ADAPTERS[name].name == name for name in ADAPTERS)


async def test_chat_with_tool_calls(fake: FakeUpstream, session: aiohttp.ClientSession) -> None:
    adapter = adapter_for(fake)
    fake.reply = Reply(tool_calls=TOOLS, prompt_tokens=12, completion_tokens=7)
    raw = orjson.dumps(BODY)
    status, payload = await send(
        session, adapter.build_chat(fake.target(), BODY, raw, "up-model", False)
    )
    assert status == 200, payload
    answer = adapter.parse_chat(payload, "client-model")
    assert answer["model"] == "client-model"
    calls = answer["choices"][0]["message"]["tool_calls"]
    assert [
        (c["function"]["name"], orjson.loads(c["function"]["arguments"])) for c in calls
    ] == TOOLS
    assert answer["choices"][0]["finish_reason"] == "tool_calls"
    assert answer["usage"]["prompt_tokens"] == 12 and answer["usage"]["completion_tokens"] == 7
    recorded = fake.requests[-1]
    assert API_KEY not in recorded.path and API_KEY not in str(recorded.query)
    assert API_KEY in str(recorded.headers)


async def test_stream_with_tool_calls(fake: FakeUpstream, session: aiohttp.ClientSession) -> None:
    adapter = adapter_for(fake)
    fake.reply = Reply(tool_calls=TOOLS, prompt_tokens=12, completion_tokens=7)
    request = adapter.build_chat(
        fake.target(), {**BODY, "stream": True}, orjson.dumps({**BODY, "stream": True}), "up", True
    )
    out, usage = await send_stream(session, adapter, request)
    chunks = events_of(out)
    message = assemble(chunks)
    assert [(c["name"], orjson.loads(c["arguments"])) for c in message["tool_calls"]] == TOOLS
    assert len({c["id"] for c in message["tool_calls"]}) == 2
    assert message["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert (
        chunks[-1]["usage"]["prompt_tokens"] == 12 and chunks[-1]["usage"]["completion_tokens"] == 7
    )
    assert usage[-1] == StreamUsage(12, 7)


async def test_stream_text(fake: FakeUpstream, session: aiohttp.ClientSession) -> None:
    adapter = adapter_for(fake)
    fake.reply = Reply(text="Hello there, friend.", reasoning="Pondering.")
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    request = adapter.build_chat(fake.target(), body, orjson.dumps(body), "m", True)
    out, _ = await send_stream(session, adapter, request, include_usage=False)
    message = assemble(events_of(out))
    assert message["content"] == "Hello there, friend." and message["finish_reason"] == "stop"
    if not isinstance(fake, FakeOpenAI):  # thinking / thought parts
        assert message["reasoning"] == "Pondering."


async def test_models_follow_pagination(fake: FakeUpstream, session: aiohttp.ClientSession) -> None:
    adapter = adapter_for(fake)
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        status, payload = await send(session, adapter.build_models(fake.target(), cursor))
        assert status == 200, payload
        page = adapter.parse_models(payload)
        ids += page.ids
        cursor = page.next_cursor
        if cursor is None:
            break
    assert ids == list(fake.model_ids)  # Gemini's embedding models are listed too


@pytest.mark.parametrize("status", [400, 401, 429, 500])
async def test_error_answers(
    fake: FakeUpstream, session: aiohttp.ClientSession, status: int
) -> None:
    adapter = adapter_for(fake)
    fake.fault = Fault(status=status)
    code, payload = await send(
        session, adapter.build_chat(fake.target(), BODY, orjson.dumps(BODY), "m", False)
    )
    assert code == status
    message = adapter.parse_error(code, payload)
    assert message and not message.startswith("upstream answered") and API_KEY not in message


async def test_missing_key_is_401(fake: FakeUpstream, session: aiohttp.ClientSession) -> None:
    adapter = adapter_for(fake)
    target = fake.target()
    keyless = Target(target.provider_id, target.base_url, {}, target.paths)
    code, payload = await send(
        session, adapter.build_chat(keyless, BODY, orjson.dumps(BODY), "m", False)
    )
    assert code == 401
    assert adapter.parse_error(code, payload) == "Invalid API key"


async def test_malformed_json(fake: FakeUpstream, session: aiohttp.ClientSession) -> None:
    adapter = adapter_for(fake)
    fake.fault = Fault(malformed=True)
    code, payload = await send(
        session, adapter.build_chat(fake.target(), BODY, orjson.dumps(BODY), "m", False)
    )
    assert code == 200
    with pytest.raises(UpstreamError):
        adapter.parse_chat(payload, "m")


async def test_reset_mid_stream(fake: FakeUpstream, session: aiohttp.ClientSession) -> None:
    adapter = adapter_for(fake)
    fake.fault = Fault(reset_after=2)
    body = {**BODY, "stream": True}
    request = adapter.build_chat(fake.target(), body, orjson.dumps(body), "m", True)
    received: list[bytes] = []
    with pytest.raises(aiohttp.ClientError):
        async with opened(session, request) as response:
            async for chunk in adapter.stream_chat(
                iter_data(response.content.iter_any()), "m", True, []
            ):
                received.append(chunk)
    assert received  # the events before the reset were relayed
    assert not any(b'"usage":{' in chunk for chunk in received)


async def test_error_event_mid_stream(fake: FakeUpstream, session: aiohttp.ClientSession) -> None:
    adapter = adapter_for(fake)
    fake.fault = Fault(error_event_after=2)
    body = {**BODY, "stream": True}
    out, _ = await send_stream(
        session, adapter, adapter.build_chat(fake.target(), body, orjson.dumps(body), "m", True)
    )
    assert "message" in events_of(out)[-1]["error"]


async def test_slow_first_byte(fake: FakeUpstream, session: aiohttp.ClientSession) -> None:
    adapter = adapter_for(fake)
    fake.fault = Fault(first_byte_delay=0.3)
    started = time.monotonic()
    code, _ = await send(
        session, adapter.build_chat(fake.target(), BODY, orjson.dumps(BODY), "m", False)
    )
    assert code == 200 and time.monotonic() - started >= 0.3


async def test_fake_sees_client_disconnect(
    fake: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    adapter = adapter_for(fake)
    fake.fault = Fault(chunk_delay=0.2)
    body = {**BODY, "stream": True}
    request = adapter.build_chat(fake.target(), body, orjson.dumps(body), "m", True)
    async with opened(session, request) as response:
        await response.content.readany()
        response.close()
    await asyncio.wait_for(fake.disconnected.wait(), 1)


async def test_embeddings_where_supported(session: aiohttp.ClientSession) -> None:
    for name in ("openai", "gemini"):
        async with FAKES[name]() as fake:
            adapter = ADAPTERS[name]
            body = {"model": "client-embed", "input": ["a", "b"]}
            request = adapter.build_embeddings(
                fake.target(), body, orjson.dumps(body), "embedding-a"
            )
            code, payload = await send(session, request)
            assert code == 200, payload
            result = adapter.parse_embeddings(payload, "client-embed", body)
            assert result["model"] == "client-embed" and len(result["data"]) == 2
            assert all(isinstance(d["embedding"], list) for d in result["data"])


async def test_azure_style_target_reaches_the_deployment(session: aiohttp.ClientSession) -> None:
    async with FakeOpenAI() as fake:
        adapter = ADAPTERS["openai"]
        code, payload = await send(
            session,
            adapter.build_chat(fake.azure_target(), BODY, orjson.dumps(BODY), "my-deploy", False),
        )
        assert code == 200, payload
        recorded = fake.requests[-1]
        assert recorded.path == "/v1/deployments/my-deploy/chat/completions"
        assert recorded.query == {"api-version": "2024-10-21"}
        assert recorded.headers["api-key"] == API_KEY


async def test_gemini_fake_refuses_a_key_in_the_url(session: aiohttp.ClientSession) -> None:
    async with FakeGemini() as fake:
        request = ADAPTERS["gemini"].build_chat(fake.target(), BODY, b"", "g", False)
        async with session.post(
            request.url, params={"key": API_KEY}, headers=request.headers, data=request.body
        ) as response:
            assert response.status == 400
