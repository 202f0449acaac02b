"""Issue 15 at the routes: models.retrieve, embeddings as asked, Gemini's malformed calls."""

from __future__ import annotations

import base64
import struct

import pytest

from tests.fakes.base import Reply
from tests.fidelity.gateway import Client, Upstreams
from tests.openai_schema import assert_valid


async def test_models_retrieve_serves_ids_with_slashes(gateway: tuple[Client, Upstreams]) -> None:
    client, _ = gateway
    for path in ("/v1/models/an/claude-x", "/api/v1/models/an/claude-x"):
        one = await client.get(path)
        assert one.status == 200
        assert await one.json() == {
            "id": "an/claude-x", "object": "model", "created": 0, "owned_by": "an"
        }  # fmt: skip
    bare = await (await client.get("/v1/models/gemini-2.5-flash")).json()
    assert bare["owned_by"] == "gm"
    missing = await client.get("/v1/models/an/nope")
    assert missing.status == 404
    body = await missing.json()
    assert_valid("ErrorResponse", body)
    assert body["error"]["code"] == "model_not_found"


async def test_gemini_embedding_models_are_listed(gateway: tuple[Client, Upstreams]) -> None:
    client, fakes = gateway
    fakes.gemini.model_ids = ("gemini-a", "gemini-embedding-001")  # not among its aliases
    ids = [m["id"] for m in (await (await client.get("/v1/models")).json())["data"]]
    assert {"gm/gemini-a", "gm/gemini-embedding-001"} <= set(ids)


def floats(text: str) -> list[float]:
    raw = base64.b64decode(text)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


@pytest.mark.parametrize("model", ["oa/emb-x", "gm/text-embedding-004"])
async def test_embeddings_honour_encoding_format(
    gateway: tuple[Client, Upstreams], model: str
) -> None:
    client, _ = gateway
    body = {"model": model, "input": ["first text", "second"]}
    plain = await (await client.post("/v1/embeddings", json=body)).json()
    coded = await (
        await client.post("/v1/embeddings", json={**body, "encoding_format": "base64"})
    ).json()
    assert all(isinstance(d["embedding"], list) for d in plain["data"])
    assert all(isinstance(d["embedding"], str) for d in coded["data"])
    assert [floats(d["embedding"]) for d in coded["data"]] == [
        pytest.approx(d["embedding"]) for d in plain["data"]
    ]
    assert plain["usage"]["prompt_tokens"] > 0 and plain["usage"]["total_tokens"] > 0
    bad = await client.post("/v1/embeddings", json={**body, "encoding_format": "int8"})
    assert bad.status == 400 and (await bad.json())["error"]["param"] == "encoding_format"


async def test_token_arrays(gateway: tuple[Client, Upstreams]) -> None:
    client, fakes = gateway
    tokens = {"input": [[1212, 318], [257]]}
    passed = await client.post("/v1/embeddings", json={"model": "oa/emb-x", **tokens})
    assert passed.status == 200 and fakes.openai.requests[-1].json["input"] == tokens["input"]
    refused = await client.post("/v1/embeddings", json={"model": "gm/text-embedding-004", **tokens})
    assert refused.status == 400
    error = (await refused.json())["error"]
    assert error["param"] == "input" and "text" in error["message"]


async def test_gemini_malformed_call_is_a_502_with_its_message(
    gateway: tuple[Client, Upstreams],
) -> None:
    client, fakes = gateway
    fakes.gemini.reply = Reply(
        text="", finish="MALFORMED_FUNCTION_CALL", finish_message="Malformed function call: f("
    )
    body = {"model": "gm/gemini-2.5-flash", "messages": [{"role": "user", "content": "go"}]}
    answer = await client.post("/v1/chat/completions", json=body)
    assert answer.status == 502
    assert "Malformed function call: f(" in (await answer.json())["error"]["message"]
    streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
    text = (await streamed.read()).decode()
    assert "Malformed function call: f(" in text and '"finish_reason":"stop"' not in text
