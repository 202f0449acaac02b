"""End to end with the official anthropic SDK: the real gateway in front of fake Anthropic,
OpenAI-compatible and Gemini upstreams (real HTTP servers speaking their wire formats).

Each provider maps the Claude name the client sends to a model of its own
(``aliases`` in providers.d); the client picks the provider by the model prefix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import orjson
import pytest
from aiohttp.test_utils import TestClient

from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.base import API_KEY, FakeUpstream, Fault, Reply
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.messages.helpers import check_stream, parse_events
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app

ADMIN_KEY = "admin-key-for-messages-tests"
CLAUDE = "claude-sonnet-4-5"
PNG = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
    "hQGAhKmMIQAAAABJRU5ErkJggg=="
)
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Weather now in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TIME_TOOL: Any = {
    "name": "get_time",
    "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}},
}


@dataclass
class Upstreams:
    ant: FakeAnthropic
    oai: FakeOpenAI
    gem: FakeGemini

    def named(self, provider: str) -> FakeUpstream:
        fake: FakeUpstream = getattr(self, provider)
        return fake


@pytest.fixture
async def upstreams() -> AsyncIterator[Upstreams]:
    async with FakeAnthropic() as ant, FakeOpenAI() as oai, FakeGemini() as gem:
        assert isinstance(ant, FakeAnthropic) and isinstance(oai, FakeOpenAI)
        assert isinstance(gem, FakeGemini)
        yield Upstreams(ant, oai, gem)


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], upstreams: Upstreams
) -> TestClient[Any, Any]:
    app = gateway_app(
        make_settings(admin_key=ADMIN_KEY, **QUIET),
        {
            "provider_id": "ant",
            "template": "anthropic",
            "base_url": f"http://127.0.0.1:{upstreams.ant.port}",
            "api_key": API_KEY,
            "aliases": {CLAUDE: "claude-a"},
        },
        {
            "provider_id": "oai",
            "base_url": upstreams.oai.url,
            "api_key": API_KEY,
            "aliases": {CLAUDE: "gpt-fake"},
        },
        {
            "provider_id": "gem",
            "template": "gemini",
            "base_url": upstreams.gem.url,
            "api_key": API_KEY,
            "aliases": {CLAUDE: "gemini-a"},
        },
    )
    return await aiohttp_client(app, server_kwargs=SERVER_KWARGS)


@pytest.fixture
async def sdk(gateway: TestClient[Any, Any]) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(
        base_url=str(gateway.make_url("/")), api_key=ADMIN_KEY, max_retries=0
    )
    yield client
    await client.close()


PROVIDERS = pytest.mark.parametrize("provider", ["ant", "oai", "gem"])
HELLO: Any = [{"role": "user", "content": "Hello"}]


@PROVIDERS
async def test_create_and_stream(
    sdk: anthropic.AsyncAnthropic, upstreams: Upstreams, provider: str
) -> None:
    fake = upstreams.named(provider)
    fake.reply = Reply(text="Bonjour, ami.", prompt_tokens=21, completion_tokens=4)
    model = f"{provider}/{CLAUDE}"
    message = await sdk.messages.create(model=model, max_tokens=64, messages=HELLO)
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [
        ("text", "Bonjour, ami.")
    ]
    assert message.stop_reason == "end_turn" and message.role == "assistant"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (21, 4)

    async with sdk.messages.stream(model=model, max_tokens=64, messages=HELLO) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == "Bonjour, ami."
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (21, 4)


@PROVIDERS
async def test_tool_round_trip(
    sdk: anthropic.AsyncAnthropic, upstreams: Upstreams, provider: str
) -> None:
    fake = upstreams.named(provider)
    fake.reply = Reply(text="", tool_calls=[("get_weather", {"city": "Paris"})])
    model = f"{provider}/{CLAUDE}"
    question: Any = {"role": "user", "content": "Weather in Paris?"}
    first = await sdk.messages.create(
        model=model, max_tokens=64, messages=[question], tools=[WEATHER_TOOL]
    )
    assert first.stop_reason == "tool_use"
    (call,) = [b for b in first.content if b.type == "tool_use"]
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})

    fake.reply = Reply(text="It is 18 C in Paris.")
    result: Any = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}],
    }
    second = await sdk.messages.create(
        model=model,
        max_tokens=64,
        messages=[question, {"role": "assistant", "content": first.content}, result],
        tools=[WEATHER_TOOL],
    )
    assert second.content[0].type == "text" and second.content[0].text == "It is 18 C in Paris."
    sent = fake.requests[-1].json
    if provider == "oai":
        assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
        assert sent["messages"][2] == {"role": "tool", "tool_call_id": call.id, "content": "18 C"}
        assert sent["tools"][0]["function"]["parameters"] == WEATHER_TOOL["input_schema"]
    elif provider == "gem":
        parts = [p for c in sent["contents"] for p in c["parts"]]
        assert {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}} in [
            {k: v for k, v in p.items() if k == "functionCall"} for p in parts
        ]
        assert any("functionResponse" in p for p in parts)
    else:  # pass-through: the client's body, model excepted
        assert sent["messages"][2]["content"][0]["tool_use_id"] == call.id
        assert sent["model"] == "claude-a"


async def test_gemini_thought_signature_survives_the_round_trip(
    sdk: anthropic.AsyncAnthropic, upstreams: Upstreams
) -> None:
    """Gemini 3 wants its thought signature back with each call: it rides in the tool_use id."""
    signature = "Q2lqQ/+xZTBhbg=="
    upstreams.gem.thought_signature = signature
    upstreams.gem.reply = Reply(text="", tool_calls=[("get_weather", {"city": "Oslo"})])
    question: Any = {"role": "user", "content": "Weather in Oslo?"}
    async with sdk.messages.stream(
        model=f"gem/{CLAUDE}", max_tokens=64, messages=[question], tools=[WEATHER_TOOL]
    ) as stream:
        first = await stream.get_final_message()
    (call,) = first.content
    assert call.type == "tool_use" and call.id.replace("-", "").replace("_", "").isalnum()
    upstreams.gem.reply = Reply(text="Cold.")
    result: Any = {"type": "tool_result", "tool_use_id": call.id, "content": "-3 C"}
    await sdk.messages.create(
        model=f"gem/{CLAUDE}",
        max_tokens=64,
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ],
        tools=[WEATHER_TOOL],
    )
    model_turn, answer_turn = upstreams.gem.requests[-1].json["contents"][1:]
    assert model_turn["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
         "thoughtSignature": signature}
    ]  # fmt: skip
    assert answer_turn["parts"][0]["functionResponse"]["name"] == "get_weather"


@PROVIDERS
async def test_several_tool_calls_in_one_streamed_answer(
    sdk: anthropic.AsyncAnthropic, upstreams: Upstreams, provider: str
) -> None:
    """Every call kept, each its own block, in order, with its whole input (Gemini included)."""
    fake = upstreams.named(provider)
    fake.reply = Reply(
        text="", tool_calls=[("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})]
    )
    async with sdk.messages.stream(
        model=f"{provider}/{CLAUDE}",
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather and time?"}],
        tools=[WEATHER_TOOL, TIME_TOOL],
    ) as stream:
        final = await stream.get_final_message()
    calls = [(b.name, b.input) for b in final.content if b.type == "tool_use"]
    assert calls == [("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})]
    assert final.stop_reason == "tool_use"


@PROVIDERS
async def test_image_reaches_the_provider(
    sdk: anthropic.AsyncAnthropic, upstreams: Upstreams, provider: str
) -> None:
    fake = upstreams.named(provider)
    image: Any = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }
    await sdk.messages.create(
        model=f"{provider}/{CLAUDE}",
        max_tokens=64,
        messages=[{"role": "user", "content": [image, {"type": "text", "text": "What is it?"}]}],
    )
    sent = fake.requests[-1].json
    if provider == "oai":
        url = sent["messages"][0]["content"][0]["image_url"]["url"]
        assert url == f"data:image/png;base64,{PNG}"
    elif provider == "gem":
        part = sent["contents"][0]["parts"][0]
        assert part == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    else:
        assert sent["messages"][0]["content"][0] == image


@PROVIDERS
async def test_pdf_document(
    sdk: anthropic.AsyncAnthropic, upstreams: Upstreams, provider: str
) -> None:
    pdf = "JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZSAvUGFnZT4+CmVuZG9iagolJUVPRgo="
    document: Any = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
    }
    await sdk.messages.create(
        model=f"{provider}/{CLAUDE}",
        max_tokens=64,
        messages=[{"role": "user", "content": [document, {"type": "text", "text": "Sum up."}]}],
    )
    sent = upstreams.named(provider).requests[-1].json
    if provider == "oai":
        part = sent["messages"][0]["content"][0]
        assert part["file"]["file_data"] == f"data:application/pdf;base64,{pdf}"
    elif provider == "gem":
        part = sent["contents"][0]["parts"][0]
        assert part == {"inlineData": {"mimeType": "application/pdf", "data": pdf}}
    else:
        assert sent["messages"][0]["content"][0] == document


@PROVIDERS
async def test_thinking(sdk: anthropic.AsyncAnthropic, upstreams: Upstreams, provider: str) -> None:
    fake = upstreams.named(provider)
    fake.reply = Reply(text="42.", reasoning="Six times seven.")
    async with sdk.messages.stream(
        model=f"{provider}/{CLAUDE}",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "Six times seven?"}],
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    thinking = final.content[0]
    assert thinking.type == "thinking" and thinking.thinking == "Six times seven."
    if provider == "ant":
        assert thinking.signature == "sig"  # the provider's signature, relayed
    if provider == "oai":
        assert fake.requests[-1].json["reasoning_effort"] == "low"


@PROVIDERS
async def test_count_tokens(
    sdk: anthropic.AsyncAnthropic, upstreams: Upstreams, provider: str
) -> None:
    upstreams.ant.reply = Reply(prompt_tokens=1234)
    response = await sdk.messages.with_raw_response.count_tokens(
        model=f"{provider}/{CLAUDE}",
        system="You are a helpful assistant.",
        messages=[{"role": "user", "content": "Hello, how are you today?"}],
        tools=[WEATHER_TOOL],
    )
    counted = await response.parse()
    if provider == "ant":
        assert counted.input_tokens == 1234
        assert response.headers["X-Gateway-Token-Count"] == "exact"
        assert upstreams.ant.requests[-1].path == "/v1/messages/count_tokens"
    else:
        assert 30 < counted.input_tokens < 80
        assert response.headers["X-Gateway-Token-Count"] == "estimate; tokenizer=cl100k_base"
        assert not upstreams.named(provider).requests


async def test_sdk_error_classes(
    sdk: anthropic.AsyncAnthropic, gateway: TestClient[Any, Any], upstreams: Upstreams
) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        await sdk.messages.create(model="no-such-model", max_tokens=8, messages=HELLO)
    assert missing.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": missing.value.body["error"]["message"]},
    }
    with pytest.raises(anthropic.BadRequestError) as bad:
        await sdk.messages.create(model=f"oai/{CLAUDE}", max_tokens=8, messages=[])
    assert "messages" in bad.value.message
    with pytest.raises(anthropic.BadRequestError):
        await sdk.messages.create(
            model=f"gem/{CLAUDE}",
            max_tokens=8,
            messages=HELLO,
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
        )
    upstreams.oai.fault = Fault(status=429)
    with pytest.raises(anthropic.RateLimitError) as limited:
        await sdk.messages.create(model=f"oai/{CLAUDE}", max_tokens=8, messages=HELLO)
    assert limited.value.response.headers["retry-after"]
    upstreams.ant.fault = Fault(status=529)
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        await sdk.messages.create(model=f"ant/{CLAUDE}", max_tokens=8, messages=HELLO)
    assert overloaded.value.response.headers["retry-after"]
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    bad_key = anthropic.AsyncAnthropic(
        base_url=str(gateway.make_url("/")), api_key="wrong-key", max_retries=0
    )
    with pytest.raises(anthropic.AuthenticationError) as denied:
        await bad_key.messages.create(model=f"oai/{CLAUDE}", max_tokens=8, messages=HELLO)
    await bad_key.close()
    assert denied.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


async def test_stream_error_mid_answer_is_an_error_event(
    gateway: TestClient[Any, Any], upstreams: Upstreams
) -> None:
    upstreams.oai.fault = Fault(error_event_after=3)
    response = await gateway.post(
        "/v1/messages",
        json={"model": f"oai/{CLAUDE}", "max_tokens": 8, "messages": HELLO, "stream": True},
        headers={"x-api-key": ADMIN_KEY, "anthropic-version": "2023-06-01"},
    )
    events = parse_events(await response.read())
    assert events[-1] == (
        "error",
        {"type": "error", "error": {"type": "api_error", "message": "upstream broke mid-stream"}},
    )


async def test_models_in_anthropic_shape(
    sdk: anthropic.AsyncAnthropic, gateway: TestClient[Any, Any]
) -> None:
    ids = [model.id async for model in sdk.models.list(limit=2)]
    assert f"oai/{CLAUDE}" in ids and f"ant/{CLAUDE}" in ids and len(ids) == len(set(ids))
    plain = await gateway.get("/v1/models", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert (await plain.json())["object"] == "list"
    page = await gateway.get(
        "/v1/models?limit=0", headers={"x-api-key": ADMIN_KEY, "anthropic-version": "2023-06-01"}
    )
    assert page.status == 400
    assert (await page.json())["error"]["type"] == "invalid_request_error"


async def test_raw_stream_keeps_block_rules(
    gateway: TestClient[Any, Any], upstreams: Upstreams
) -> None:
    upstreams.gem.reply = Reply(
        text="Checking.", tool_calls=[("get_weather", {"city": "Oslo"}), ("get_time", {})]
    )
    response = await gateway.post(
        "/v1/messages?beta=true",
        data=orjson.dumps(
            {"model": f"gem/{CLAUDE}", "max_tokens": 64, "messages": HELLO, "stream": True}
        ),
        headers={
            "x-api-key": ADMIN_KEY,
            "anthropic-version": "2023-06-01",
            "Content-Type": "application/json",
        },
    )
    assert response.headers["Content-Type"].startswith("text/event-stream")
    blocks = check_stream(parse_events(await response.read()))
    assert [(b["type"], b.get("input")) for b in blocks] == [
        ("text", None),
        ("tool_use", {"city": "Oslo"}),
        ("tool_use", {}),
    ]


async def test_keys_scopes_limits_and_metrics_as_for_chat(
    gateway: TestClient[Any, Any], upstreams: Upstreams
) -> None:
    """A client key's allow-list and rpm hold here too; refusals come in Anthropic's shape."""
    created = await gateway.post(
        "/api/v1/keys",
        json={"name": "claude", "models": [f"oai/{CLAUDE}"], "rpm": 2},  # the 403 counts too
        headers={"x-api-key": ADMIN_KEY},
    )
    assert created.status == 201, await created.text()
    client = anthropic.AsyncAnthropic(
        base_url=str(gateway.make_url("/")),
        auth_token=(await created.json())["key"],  # Authorization: Bearer, as Claude Code's
        max_retries=0,
    )
    try:
        with pytest.raises(anthropic.PermissionDeniedError) as denied:
            await client.messages.create(model=f"ant/{CLAUDE}", max_tokens=8, messages=HELLO)
        assert denied.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
        await client.messages.create(model=f"oai/{CLAUDE}", max_tokens=8, messages=HELLO)
        with pytest.raises(anthropic.RateLimitError) as limited:
            await client.messages.create(model=f"oai/{CLAUDE}", max_tokens=8, messages=HELLO)
        assert int(limited.value.response.headers["retry-after"]) >= 1
    finally:
        await client.close()
    scraped = await (await gateway.get("/metrics")).text()
    assert 'gateway_http_requests_total{method="POST",route="/v1/messages",status="200"}' in scraped
    assert 'provider="oai"' in scraped


async def test_anthropic_pass_through_relays_bytes_and_headers(
    gateway: TestClient[Any, Any], upstreams: Upstreams
) -> None:
    upstreams.ant.reply = Reply(text="Hi.", reasoning="Short.")
    response = await gateway.post(
        "/v1/messages",
        data=orjson.dumps(
            {"model": f"ant/{CLAUDE}", "max_tokens": 64, "messages": HELLO, "stream": True,
             "top_k": 5, "cache_note": {"kept": True}}
        ),
        headers={
            "x-api-key": ADMIN_KEY,
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "interleaved-thinking-2025-05-14",
            "Content-Type": "application/json",
        },
    )  # fmt: skip
    raw = await response.read()
    assert raw.startswith(b"event: message_start\ndata: ")
    events = parse_events(raw)
    assert events[0][1]["message"]["id"] == "msg_fake"  # the upstream's own events
    assert check_stream(events)[0]["signature"] == "sig"
    received = upstreams.ant.requests[-1]
    assert received.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert received.headers["x-api-key"] == API_KEY
    assert ADMIN_KEY not in str(received.headers)
    assert received.json["model"] == "claude-a"
    assert received.json["cache_note"] == {"kept": True} and received.json["top_k"] == 5
