"""Stored responses: per-key visibility, a restart (file), two instances (Redis), encryption,
``store: false``, and the events that end a failed stream."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
import redis.asyncio

from gateway.adapters.base import StreamUsage
from gateway.responses.store import FileResponses, RedisResponses, StoredResponse
from gateway.settings import Settings
from gateway.storage.crypto import Cipher
from gateway.usage import USAGE_HOOKS
from tests.conftest import TEST_SECRET_KEY, AppClient
from tests.fakes.base import API_KEY, Fault, Reply
from tests.openai_schema import assert_valid
from tests.providers_d import QUIET, SERVER_KWARGS, gateway_app
from tests.responses.conftest import Client, Fakes, make_gateway

ADMIN_KEY = "admin-key-for-responses-tests-0123456789"


def sdk_for(client: Client, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=str(client.make_url("/v1")), api_key=key, max_retries=0)


async def new_key(client: Client) -> str:
    created = await client.post(
        "/api/v1/keys",
        json={"name": "k", "scopes": ["chat"]},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert created.status == 201, await created.text()
    key: str = (await created.json())["key"]
    return key


async def test_a_key_sees_only_its_own_responses(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fakes: Fakes, tmp_path: Path
) -> None:
    settings = make_settings(admin_key=ADMIN_KEY, **QUIET)
    client = await aiohttp_client(make_gateway(settings, fakes), server_kwargs=SERVER_KWARGS)
    alice, bob = sdk_for(client, await new_key(client)), sdk_for(client, await new_key(client))
    admin = sdk_for(client, ADMIN_KEY)
    made = await alice.responses.create(model="claude", input="secret plans")
    assert (await alice.responses.retrieve(made.id)).output_text == made.output_text
    assert (await admin.responses.retrieve(made.id)).id == made.id
    with pytest.raises(openai.NotFoundError):
        await bob.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        await bob.responses.input_items.list(made.id)
    with pytest.raises(openai.NotFoundError):
        await bob.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError) as chained:
        await bob.responses.create(model="claude", input="go on", previous_response_id=made.id)
    assert isinstance(chained.value.body, dict)
    assert chained.value.body["param"] == "previous_response_id"
    # Encrypted at rest: the stored file holds neither the input nor the answer.
    files = list((tmp_path / "data" / "responses").iterdir())
    assert [f.name for f in files] == [made.id]
    assert b"secret plans" not in files[0].read_bytes()
    for sdk in (alice, bob, admin):
        await sdk.close()


async def test_a_stored_response_survives_a_restart(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fakes: Fakes
) -> None:
    settings = make_settings(**QUIET)
    first = await aiohttp_client(make_gateway(settings, fakes), server_kwargs=SERVER_KWARGS)
    sdk = sdk_for(first, "unused")
    made = await sdk.responses.create(model="gem", input="remember")
    await sdk.close()
    await first.close()
    second = await aiohttp_client(make_gateway(settings, fakes), server_kwargs=SERVER_KWARGS)
    again = sdk_for(second, "unused")
    assert (await again.responses.retrieve(made.id)).output_text == made.output_text
    await again.close()


async def test_instances_share_responses_through_redis(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    fakes: Fakes,
    redis_url: str,
    tmp_path: Path,
) -> None:
    def instance(n: int) -> Settings:
        return make_settings(
            storage={"backend": "redis", "redis_url": redis_url, "path": str(tmp_path / f"d{n}")},
            secret_key=TEST_SECRET_KEY,
            **QUIET,
        )

    one = await aiohttp_client(make_gateway(instance(1), fakes), server_kwargs=SERVER_KWARGS)
    two = await aiohttp_client(make_gateway(instance(2), fakes), server_kwargs=SERVER_KWARGS)
    sdk_one, sdk_two = sdk_for(one, "unused"), sdk_for(two, "unused")
    made = await sdk_one.responses.create(model="compat", input="shared")
    assert (await sdk_two.responses.retrieve(made.id)).id == made.id
    follow = await sdk_two.responses.create(
        model="compat", input="and then?", previous_response_id=made.id
    )
    assert "shared" in orjson.dumps(fakes.compat.requests[-1].json).decode()
    await sdk_two.responses.delete(follow.id)
    with pytest.raises(openai.NotFoundError):
        await sdk_one.responses.retrieve(follow.id)
    await sdk_one.close()
    await sdk_two.close()


async def test_store_off(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fakes: Fakes
) -> None:
    settings = make_settings(responses={"store": False}, **QUIET)
    client = await aiohttp_client(make_gateway(settings, fakes), server_kwargs=SERVER_KWARGS)
    made = await client.post("/v1/responses", json={"model": "claude", "input": "hi"})
    made_id = (await made.json())["id"]
    assert (await client.get(f"/v1/responses/{made_id}")).status == 404
    chained = await client.post(
        "/v1/responses",
        json={"model": "claude", "input": "hi", "previous_response_id": made_id},
    )
    error = (await chained.json())["error"]
    assert chained.status == 400 and error["param"] == "previous_response_id"
    assert "responses.store is false" in error["message"]


def events_of(raw: bytes) -> list[tuple[str, Any]]:
    out = []
    for block in raw.split(b"\n\n"):
        lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"event" in lines:
            out.append((lines[b"event"].decode(), orjson.loads(lines[b"data"])))
    return out


@pytest.mark.parametrize("model", ["compat", "claude"])
async def test_a_stream_that_breaks_ends_with_error_and_response_failed(
    gateway: Client, fakes: Fakes, model: str
) -> None:
    fakes.of(model).fault = Fault(error_event_after=3)
    response = await gateway.post(
        "/v1/responses", json={"model": model, "input": "hi", "stream": True}
    )
    events = events_of(await response.read())
    assert [name for name, _ in events[-2:]] == ["error", "response.failed"]
    for name, data in events:
        assert data["type"] == name
        assert_valid("ResponseStreamEvent", data)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert events[-1][1]["response"]["status"] == "failed"


async def test_a_native_stream_is_relayed_as_sent(gateway: Client, fakes: Fakes) -> None:
    response = await gateway.post(
        "/v1/responses", json={"model": "native", "input": "hi", "stream": True}
    )
    raw = await response.read()
    assert fakes.native.requests[-1].path == "/v1/responses"
    assert raw.startswith(b"event: response.created\ndata: ")
    assert events_of(raw)[-1][0] == "response.completed"
    stored = events_of(raw)[-1][1]["response"]["id"]
    kept = await (await gateway.get(f"/v1/responses/{stored}")).json()
    assert kept["model"] == "native" and kept["status"] == "completed"


@pytest.mark.parametrize("stream", [False, True])
async def test_usage_reaches_the_usage_hooks(gateway: Client, stream: bool) -> None:
    seen: list[tuple[str, StreamUsage]] = []
    gateway.app[USAGE_HOOKS].append(lambda _r, provider, _m, usage: seen.append((provider, usage)))
    for model in ("native", "claude"):
        response = await gateway.post(
            "/v1/responses", json={"model": model, "input": "hi", "stream": stream}
        )
        assert response.status == 200
        await response.read()
    assert seen == [("oa", StreamUsage(12, 7, 2, 1)), ("an", StreamUsage(12, 7, 0, 0))]


async def test_an_id_that_cannot_name_a_file_is_not_stored(tmp_path: Path) -> None:
    store = FileResponses(tmp_path / "responses", Cipher([TEST_SECRET_KEY], "test"), 60)
    with pytest.raises(ValueError):
        await store.save(StoredResponse(None, True, [], [], {"id": "../escape"}))
    assert not (tmp_path / "escape").exists() and await store.get("../escape") is None


@pytest.mark.parametrize("model", ["native", "compat", "claude", "gem"])
async def test_raw_stream_events_are_valid(gateway: Client, fakes: Fakes, model: str) -> None:
    fakes.of(model).reply = Reply(reasoning="Hmm.", tool_calls=[("f", {"a": 1}), ("g", {})])
    response = await gateway.post(
        "/v1/responses", json={"model": model, "input": "hi", "stream": True}
    )
    events = events_of(await response.read())
    for name, data in events:
        assert data["type"] == name
        assert_valid("ResponseStreamEvent", data)
    assert events[-1][0] == "response.completed"
    output = events[-1][1]["response"]["output"]
    assert [item["name"] for item in output if item["type"] == "function_call"] == ["f", "g"]


async def test_a_length_stop_is_incomplete(gateway: Client, fakes: Fakes) -> None:
    fakes.compat.reply = Reply(finish="length")
    answer = await (
        await gateway.post("/v1/responses", json={"model": "compat", "input": "hi"})
    ).json()
    assert_valid("Response", answer)
    assert answer["status"] == "incomplete"
    assert answer["incomplete_details"] == {"reason": "max_output_tokens"}
    response = await gateway.post(
        "/v1/responses", json={"model": "compat", "input": "hi", "stream": True}
    )
    name, last = events_of(await response.read())[-1]
    assert name == "response.incomplete" and last["response"]["status"] == "incomplete"


async def test_a_response_older_than_the_retention_is_gone(tmp_path: Path) -> None:
    store = FileResponses(tmp_path / "responses", Cipher([TEST_SECRET_KEY], "test"), 3600)
    await store.save(StoredResponse("k1", False, [], [], {"id": "resp_old"}))
    record = await store.get("resp_old")
    assert record is not None and record.owner == "k1"
    hours_ago = time.time() - 7200
    os.utime(tmp_path / "responses" / "resp_old", (hours_ago, hours_ago))
    assert await store.get("resp_old") is None
    assert not (tmp_path / "responses" / "resp_old").exists()


async def test_redis_keeps_a_response_for_the_retention(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    store = RedisResponses(client, Cipher([TEST_SECRET_KEY], "test"), 3600, 1.0)
    await store.save(StoredResponse(None, False, [], [], {"id": "resp_ttl"}))
    assert 3_500_000 < await client.pttl("gw:responses:resp_ttl") <= 3_600_000
    assert await store.delete("resp_ttl") and await store.get("resp_ttl") is None
    await client.aclose()


async def test_a_fallback_from_native_to_translated_is_stored_as_translated(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], fakes: Fakes
) -> None:
    app = gateway_app(
        make_settings(**QUIET),
        {"provider_id": "oa", "base_url": fakes.native.url, "serves": ("both",),
         "api_key": API_KEY, "priority": 2},
        {"provider_id": "vl", "base_url": fakes.compat.url, "serves": ("both",),
         "api_key": API_KEY, "priority": 1, "template": "vllm"},
    )  # fmt: skip
    client = await aiohttp_client(app, server_kwargs=SERVER_KWARGS)
    fakes.native.fault = Fault(status=503)
    made = await client.post("/v1/responses", json={"model": "both", "input": "My name is Ada."})
    assert made.headers["X-Gateway-Provider"] == "vl"
    fakes.native.fault = Fault()
    follow = {"model": "both", "input": "Name?", "previous_response_id": (await made.json())["id"]}
    assert (await client.post("/v1/responses", json=follow)).status == 200
    body = fakes.native.requests[-1].json
    assert "previous_response_id" not in body  # the id is the gateway's, not OpenAI's
    assert body["input"][0]["content"][0]["text"] == "My name is Ada."
