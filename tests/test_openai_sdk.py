"""End to end with the official openai SDK as the client of the real gateway app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import openai
import pytest

from gateway.settings import Settings
from tests.conftest import AppClient
from tests.fakes.chat_upstream import FakeOpenAI, start_fake
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app

HELLO: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    fake = await start_fake("upstream")
    yield fake
    assert fake.server is not None
    await fake.server.close()


@pytest.fixture
async def sdk(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fake: FakeOpenAI,
) -> AsyncIterator[openai.AsyncOpenAI]:
    app = gateway_app(
        make_settings(**QUIET),
        {"provider_id": "up", "base_url": fake.base_url, "serves": ("gpt-fake", "tools", "emb")},
    )
    client = await aiohttp_client(app, server_kwargs=SERVER_KWARGS)
    sdk = openai.AsyncOpenAI(
        base_url=str(client.make_url("/api/v1")), api_key="gateway-key", max_retries=0
    )
    yield sdk
    await sdk.close()


async def test_chat_and_stream(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.chat.completions.create(model="gpt-fake", messages=HELLO)
    assert completion.choices[0].message.content == "Hello from upstream"
    assert completion.model == "gpt-fake"
    assert completion.usage is not None and completion.usage.total_tokens == 12

    stream = await sdk.chat.completions.create(
        model="up/gpt-fake", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == "Hello from upstream"
    assert usage is not None and usage.prompt_tokens == 7


async def test_tool_calls(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.chat.completions.create(model="tools", messages=HELLO)
    calls = completion.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls if c.type == "function"] == ["get_weather", "get_time"]
    assert completion.choices[0].finish_reason == "tool_calls"

    stream = await sdk.chat.completions.create(model="tools", messages=HELLO, stream=True)
    arguments: dict[int, str] = {}
    async for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            fragment = call.function.arguments if call.function else None
            arguments[call.index] = arguments.get(call.index, "") + (fragment or "")
    assert arguments == {0: '{"city": "Paris"}', 1: '{"tz": "UTC"}'}


async def test_models_and_embeddings(sdk: openai.AsyncOpenAI) -> None:
    models = [m.id async for m in sdk.models.list()]
    assert models == ["up/gpt-fake", "up/tools", "up/emb"]
    assert (await sdk.models.list()).data[0].owned_by == "up"
    embedding = await sdk.embeddings.create(model="emb", input=["a", "b"], encoding_format="float")
    assert len(embedding.data) == 2 and embedding.data[1].embedding == [0.1, 0.2, 1.0]
    default = await sdk.embeddings.create(model="emb", input=["a", "b"])  # base64 on the wire
    assert default.data[1].embedding == pytest.approx([0.1, 0.2, 1.0])
    model = await sdk.models.retrieve("up/gpt-fake")
    assert (model.id, model.owned_by) == ("up/gpt-fake", "up")


async def test_error_classes(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await sdk.chat.completions.create(model="no-such-model", messages=HELLO)
    with pytest.raises(openai.AuthenticationError) as auth:
        await sdk.chat.completions.create(model="up/fail-401", messages=HELLO)
    assert "upstream says 401" in str(auth.value)
    with pytest.raises(openai.RateLimitError):
        await sdk.chat.completions.create(model="up/fail-429", messages=HELLO)
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.chat.completions.create(model="gpt-fake", messages=HELLO, temperature=3)
    assert isinstance(bad.value.body, dict) and bad.value.body["param"] == "temperature"


async def test_error_in_stream_raises_in_sdk(sdk: openai.AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="up/reset-mid-stream", messages=HELLO, stream=True
    )
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
