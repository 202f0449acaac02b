"""POST /api/v1/chat/completions against real fake upstreams: relay, fallback, streams, faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.adapters import ADAPTERS
from gateway.adapters.base import StreamUsage
from gateway.adapters.openai import OpenAIAdapter
from gateway.settings import Settings
from gateway.usage import USAGE_HOOKS
from tests.conftest import AppClient
from tests.fakes.chat_upstream import USAGE, FakeOpenAI, start_fake
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app
from tests.test_app import assert_openai_error

Client = TestClient[web.Request, web.Application]
HELLO = [{"role": "user", "content": "hi"}]
UsageRecord = tuple[str, str, StreamUsage]


def p(provider_id: str, base_url: str, *serves: str, **fields: Any) -> dict[str, Any]:
    """A providers.d entry for gateway_app."""
    return {"provider_id": provider_id, "base_url": base_url, "serves": serves, **fields}


async def start(
    aiohttp_client: AppClient, settings: Settings, *providers: dict[str, Any]
) -> Client:
    return await aiohttp_client(gateway_app(settings, *providers), server_kwargs=SERVER_KWARGS)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeOpenAI, FakeOpenAI]]:
    a, b = await start_fake("a"), await start_fake("b")
    yield a, b
    for fake in (a, b):
        assert fake.server is not None
        await fake.server.close()


@pytest.fixture
def usage() -> list[UsageRecord]:
    return []


@pytest.fixture
async def gateway(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: tuple[FakeOpenAI, FakeOpenAI],
    usage: list[UsageRecord],
) -> Client:
    a, b = fakes
    settings = make_settings(
        server={"sse_comment_interval_s": 0.2}, upstream={"first_byte_timeout_s": 1.0}, **QUIET
    )
    app = gateway_app(
        settings,
        p("a", a.base_url, "shared", "only-a", "tools", priority=10, api_key="sk-secret-a"),
        p("b", b.base_url, "shared", priority=5),
        p("dead", "http://127.0.0.1:1/v1", "dead-first", priority=20),
        p("b2", b.base_url, "dead-first"),
    )
    app[USAGE_HOOKS].append(lambda _request, pid, model, seen: usage.append((pid, model, seen)))
    return await aiohttp_client(app, server_kwargs=SERVER_KWARGS)


async def post(client: Client, **body: Any) -> Any:
    return await client.post("/api/v1/chat/completions", json={"messages": HELLO, **body})


def events(raw: bytes) -> list[bytes]:
    return [block for block in raw.split(b"\n\n") if block]


async def test_non_streaming_answer_with_headers_and_usage(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI], usage: list[UsageRecord]
) -> None:
    a, _ = fakes
    response = await post(gateway, model="shared", temperature=0.5, future_param={"x": 1})
    assert response.status == 200
    body = await response.json()
    assert body["choices"][0]["message"]["content"] == "Hello from a"
    assert body["model"] == "shared"
    assert body["usage"] == USAGE
    assert response.headers["X-Gateway-Provider"] == "a"
    assert response.headers["x-ratelimit-remaining-requests"] == "99"
    assert response.headers["X-Request-ID"]
    # The body went upstream untouched, unknown fields included, with the provider's key.
    seen = a.requests[-1]
    assert seen.body == {"messages": HELLO, "model": "shared", "temperature": 0.5,
                         "future_param": {"x": 1}}  # fmt: skip
    assert seen.headers["Authorization"] == "Bearer sk-secret-a"
    assert usage == [("a", "shared", usage[0][2])]
    assert (usage[0][2].prompt_tokens, usage[0][2].completion_tokens) == (7, 5)


async def test_v1_alias_and_prefix_route(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    _, b = fakes
    response = await gateway.post(
        "/v1/chat/completions", json={"model": "b/gpt-x", "messages": HELLO}
    )
    assert response.status == 200
    assert response.headers["X-Gateway-Provider"] == "b"
    assert b.requests[-1].body is not None and b.requests[-1].body["model"] == "gpt-x"


async def test_forced_provider_header(gateway: Client) -> None:
    response = await gateway.post(
        "/api/v1/chat/completions",
        json={"model": "shared", "messages": HELLO},
        headers={"X-Gateway-Provider": "b"},
    )
    assert response.status == 200
    assert (await response.json())["choices"][0]["message"]["content"] == "Hello from b"


async def test_unknown_model_is_404_model_not_found(gateway: Client) -> None:
    response = await post(gateway, model="nobody-serves-this")
    assert response.status == 404
    error = assert_openai_error(await response.json(), "model_not_found")
    assert error["param"] == "model"


async def test_fallback_on_connect_error(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI]
) -> None:
    response = await post(gateway, model="dead-first")
    assert response.status == 200
    assert response.headers["X-Gateway-Provider"] == "b2"


@pytest.mark.parametrize("status", [500, 429])
async def test_fallback_on_5xx_and_429(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: tuple[FakeOpenAI, FakeOpenAI],
    status: int,
) -> None:
    a, b = fakes
    # Provider a maps the model to a failing one; b serves it.
    model = "m"
    client = await start(
        aiohttp_client,
        make_settings(**QUIET),
        p("a", a.base_url, priority=2, aliases={model: f"fail-{status}"}),
        p("b", b.base_url, model, priority=1),
    )
    response = await post(client, model=model)
    assert response.status == 200
    assert response.headers["X-Gateway-Provider"] == "b"
    assert len(a.requests) == 1 and len(b.requests) == 1


async def test_attempts_are_capped_and_last_error_returned(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: tuple[FakeOpenAI, FakeOpenAI],
) -> None:
    a, b = fakes
    client = await start(
        aiohttp_client,
        make_settings(routing={"max_attempts": 2}, **QUIET),
        *(
            p(name, fake.base_url, aliases={"m": "fail-429"})
            for name, fake in (("a", a), ("b", b), ("c", a))
        ),
    )
    response = await post(client, model="m")
    assert response.status == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["retry-after-ms"] == "6500"  # what OpenAI's SDKs read first
    error = assert_openai_error(await response.json(), "rate_limit_exceeded")
    assert error["message"] == "upstream says 429"
    assert len(a.requests) + len(b.requests) == 2


@pytest.mark.parametrize("status", [400, 401])
async def test_other_4xx_pass_through_without_retry(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI], status: int
) -> None:
    a, b = fakes
    response = await gateway.post(
        "/api/v1/chat/completions",
        json={"model": f"a/fail-{status}", "messages": HELLO},
    )
    assert response.status == status
    error = assert_openai_error(await response.json())
    assert error["message"] == f"upstream says {status}"
    assert "sk-secret" not in str(error)
    assert len(a.requests) == 1 and not b.requests


async def test_malformed_upstream_json_is_502(gateway: Client) -> None:
    response = await post(gateway, model="a/malformed")
    assert response.status == 502
    assert_openai_error(await response.json(), "upstream_error")


async def test_slow_first_byte_times_out_then_falls_back(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: tuple[FakeOpenAI, FakeOpenAI],
) -> None:
    a, b = fakes
    client = await start(
        aiohttp_client,
        make_settings(upstream={"first_byte_timeout_s": 0.3}, **QUIET),
        p("a", a.base_url, priority=2, aliases={"m": "slow-first-byte"}),
        p("b", b.base_url, "m", priority=1),
    )
    started = time.monotonic()
    response = await post(client, model="m", stream=True)
    assert response.status == 200
    assert response.headers["X-Gateway-Provider"] == "b"
    assert b"Hello " in await response.read()
    assert time.monotonic() - started < 1.5

    only_slow = await post(client, model="a/slow-first-byte")
    assert only_slow.status == 504
    assert_openai_error(await only_slow.json(), "upstream_timeout")


async def test_stream_relays_chunks_usage_and_done(
    gateway: Client, usage: list[UsageRecord]
) -> None:
    response = await post(
        gateway, model="shared", stream=True, stream_options={"include_usage": True}
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["X-Gateway-Provider"] == "a"
    assert response.headers["x-ratelimit-limit-tokens"] == "1000"
    blocks = events(await response.read())
    assert blocks[-1] == b"data: [DONE]"
    chunks = [orjson.loads(block[6:]) for block in blocks[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello from a"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == USAGE
    assert [(pid, model) for pid, model, _ in usage] == [("a", "shared")]
    assert usage[0][2].completion_tokens == 5


async def test_stream_of_two_tool_calls_keeps_indexes(gateway: Client) -> None:
    response = await post(gateway, model="tools", stream=True)
    chunks = [orjson.loads(block[6:]) for block in events(await response.read())[:-1]]
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        for call in c["choices"][0]["delta"].get("tool_calls") or []:
            slot = calls.setdefault(call["index"], {"name": "", "arguments": ""})
            slot["name"] += call.get("function", {}).get("name", "")
            slot["arguments"] += call["function"].get("arguments", "")
    assert calls == {
        0: {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"name": "get_time", "arguments": '{"tz": "UTC"}'},
    }
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_reset_mid_stream_ends_with_one_error_event(gateway: Client) -> None:
    response = await post(gateway, model="a/reset-mid-stream", stream=True)
    assert response.status == 200
    blocks = events(await asyncio.wait_for(response.read(), 5))
    for block in blocks:
        assert block.startswith(b"data: ")
        orjson.loads(block[6:])  # every event is whole JSON: no half line relayed
    last = orjson.loads(blocks[-1][6:])
    assert last["error"]["code"] == "upstream_disconnected"


async def test_stream_error_before_start_falls_back(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: tuple[FakeOpenAI, FakeOpenAI],
) -> None:
    a, b = fakes
    client = await start(
        aiohttp_client,
        make_settings(**QUIET),
        p("a", a.base_url, priority=2, aliases={"m": "fail-503"}),
        p("b", b.base_url, "m", priority=1),
    )
    response = await post(client, model="m", stream=True)
    assert response.headers["X-Gateway-Provider"] == "b"
    assert events(await response.read())[-1] == b"data: [DONE]"
    not_retried = await post(client, model="a/fail-400", stream=True)
    assert not_retried.status == 400
    assert_openai_error(await not_retried.json())


async def test_client_disconnect_cancels_upstream_within_a_second(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI], usage: list[UsageRecord]
) -> None:
    a, _ = fakes
    response = await post(gateway, model="a/slow-stream", stream=True)
    assert response.status == 200
    first = await response.content.readuntil(b"\n\n")
    assert first.startswith(b"data: ")
    left_at = time.monotonic()
    response.close()
    await asyncio.wait_for(a.disconnected.wait(), 1.0)
    assert a.disconnected_at is not None and a.disconnected_at - left_at < 1.0
    for _ in range(50):
        if usage:
            break
        await asyncio.sleep(0.02)
    assert usage and usage[0][0] == "a" and usage[0][1] == "slow-stream"


async def test_keepalive_comment_while_waiting_for_first_token(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
) -> None:
    async def slow_token(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(0.5)
        await response.write(b'data: {"choices":[{"index":0,"delta":{"content":"late"}}]}\n\n')
        await response.write(b"data: [DONE]\n\n")
        return response

    upstream_app = web.Application()
    upstream_app.router.add_post("/v1/chat/completions", slow_token)
    upstream = await aiohttp_client(upstream_app)
    client = await start(
        aiohttp_client,
        make_settings(server={"sse_comment_interval_s": 0.1}, **QUIET),
        p("a", str(upstream.make_url("/v1")), "m"),
    )
    response = await post(client, model="m", stream=True)
    raw = await response.read()
    assert raw.startswith(b": keep-alive\n\n")
    blocks = events(raw)
    assert blocks[-2] == b'data: {"choices":[{"index":0,"delta":{"content":"late"}}]}'
    assert blocks[-1] == b"data: [DONE]"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HELLO}, "model"),
        ({"model": "", "messages": HELLO}, "model"),
        ({"model": "shared"}, "messages"),
        ({"model": "shared", "messages": []}, "messages"),
        ({"model": "shared", "messages": ["hi"]}, "messages[0]"),
        ({"model": "shared", "messages": [*HELLO, *HELLO, {"role": "robot", "content": "x"}]},
         "messages[2].role"),
        ({"model": "shared", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "shared", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
         "messages[0].content[0].text"),
        ({"model": "shared", "messages": [{"role": "tool", "content": "x"}]},
         "messages[0].tool_call_id"),
        ({"model": "shared", "messages": HELLO, "temperature": 2.5}, "temperature"),
        ({"model": "shared", "messages": HELLO, "top_p": -0.1}, "top_p"),
        ({"model": "shared", "messages": HELLO, "n": 0}, "n"),
        ({"model": "shared", "messages": HELLO, "max_tokens": 0}, "max_tokens"),
        ({"model": "shared", "messages": HELLO, "max_tokens": 1.5}, "max_tokens"),
        ({"model": "shared", "messages": HELLO, "stream": "yes"}, "stream"),
        ({"model": "shared", "messages": HELLO, "stream_options": {"include_usage": 1}},
         "stream_options.include_usage"),
    ],
)  # fmt: skip
async def test_validation_names_the_field(
    gateway: Client, fakes: tuple[FakeOpenAI, FakeOpenAI], body: dict[str, Any], param: str
) -> None:
    response = await gateway.post("/api/v1/chat/completions", json=body)
    assert response.status == 400
    error = assert_openai_error(await response.json(), "invalid_value")
    assert error["param"] == param
    assert not fakes[0].requests and not fakes[1].requests


async def test_assistant_tool_call_message_without_content_is_valid(gateway: Client) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
    messages = [
        *HELLO,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c", "content": "42"},
        {"role": "user", "content": [{"type": "text", "text": "and"}, image]},
    ]
    response = await gateway.post(
        "/api/v1/chat/completions", json={"model": "shared", "messages": messages}
    )
    assert response.status == 200


async def test_bad_json_wrong_type_and_too_large(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    client = await start(aiohttp_client, make_settings(body_limits={"chat_bytes": 4096}, **QUIET))
    url = "/api/v1/chat/completions"
    bad = await client.post(url, data=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.status == 400
    assert_openai_error(await bad.json(), "invalid_json")
    not_object = await client.post(url, data=b"[1]", headers={"Content-Type": "application/json"})
    assert not_object.status == 400
    form = await client.post(
        url, data=b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status == 415
    assert_openai_error(await form.json(), "unsupported_media_type")
    big = await client.post(
        url, json={"model": "m", "messages": [{"role": "user", "content": "x" * 5000}]}
    )
    assert big.status == 413


class BrokenStreamAdapter(OpenAIAdapter):
    async def stream_chat(
        self,
        events: AsyncIterator[bytes],
        model: str,
        include_usage: bool,
        usage: list[StreamUsage],
    ) -> AsyncIterator[bytes]:
        async for payload in events:
            yield b"data: " + payload + b"\n\n"
            raise KeyError("adapter bug")


async def test_adapter_failure_mid_stream_still_ends_the_stream(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: tuple[FakeOpenAI, FakeOpenAI],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await start(aiohttp_client, make_settings(**QUIET), p("a", fakes[0].base_url, "m"))
    client.app[ADAPTERS]["openai"] = BrokenStreamAdapter()
    response = await post(client, model="m", stream=True)
    blocks = events(await asyncio.wait_for(response.read(), 5))
    assert len(blocks) == 2
    assert orjson.loads(blocks[-1][6:])["error"]["code"] == "internal_error"
    assert "stream relay failed" in caplog.text


async def test_slashed_model_names_global_aliases_and_default_provider_over_http(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: tuple[FakeOpenAI, FakeOpenAI],
) -> None:
    a, b = fakes
    settings = make_settings(
        routing={"aliases": {"best": "b/gpt-x"}, "default_provider": "b"}, **QUIET
    )
    client = await start(
        aiohttp_client,
        settings,
        p("groq", a.base_url, "meta-llama/Llama-3.1-8B"),
        p("b", b.base_url),
    )
    # "meta-llama" is no provider id: the whole name is a model that groq lists.
    slashed = await post(client, model="meta-llama/Llama-3.1-8B")
    assert slashed.status == 200, await slashed.text()
    assert slashed.headers["X-Gateway-Provider"] == "groq"
    assert a.requests[-1].body is not None
    assert a.requests[-1].body["model"] == "meta-llama/Llama-3.1-8B"
    assert (await slashed.json())["model"] == "meta-llama/Llama-3.1-8B"

    aliased = await post(client, model="best")
    assert aliased.headers["X-Gateway-Provider"] == "b"
    assert b.requests[-1].body is not None and b.requests[-1].body["model"] == "gpt-x"

    unlisted = await post(client, model="anything-else")
    assert unlisted.status == 200
    assert unlisted.headers["X-Gateway-Provider"] == "b"
    assert b.requests[-1].body is not None and b.requests[-1].body["model"] == "anything-else"
