"""The rules the OpenAPI description states, each against the server (the fuzzer's findings).

Either the description states the server's rule or the server takes what the
description allows; schemathesis (tests/test_contract.py) checks the whole, these
check each rule alone.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.fields import NO_CONTROLS, RESERVED_HEADERS, check_no_controls
from gateway.validation import encode, validate_chat, validate_embeddings

Client = TestClient[web.Request, web.Application]


async def _document(client: Client) -> dict[str, Any]:
    answer = await client.get("/api/v1/openapi.json")
    document: dict[str, Any] = await answer.json()
    return document


def _body_schema(document: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    operation = document["paths"][path][method]
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


def test_whole_floats_are_integers_and_are_relayed_as_ints() -> None:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    body |= {"max_tokens": 16.0, "n": 1}
    params = validate_chat(body)
    assert params.rewritten and body["max_tokens"] == 16 and type(body["max_tokens"]) is int
    assert b'"max_tokens":16,' in encode(body)
    assert not validate_chat({**body, "max_tokens": 16}).rewritten
    for bad in (16.5, True, "16"):
        with pytest.raises(Exception, match="max_tokens"):
            validate_chat({**body, "max_tokens": bad})
    tokens: dict[str, Any] = {"model": "m", "input": [[1.0, 2], 3.0]}
    assert validate_embeddings(tokens) == ("m", True) and tokens["input"] == [[1, 2], 3]
    huge = {"model": "m", "input": [2.0**70]}  # orjson reads 2**70 as a float
    validate_embeddings(huge)
    assert encode(huge) == b'{"model":"m","input":[1180591620717411303424]}'


async def test_chat_rules_are_in_the_description(client: Client) -> None:
    message = _body_schema(await _document(client), "/v1/chat/completions")["properties"]
    rules = message["messages"]["items"]["allOf"]
    assert {"required": ["content"], "properties": {"content": {"not": {"type": "null"}}}} in [
        rule["then"] for rule in rules
    ]
    for bad, param in (
        ({"role": "tool"}, "messages[0].content"),
        ({"role": "tool", "content": "x"}, "messages[0].tool_call_id"),
        ({"role": "user", "content": [{"type": "text"}]}, "messages[0].content[0].text"),
    ):
        answer = await client.post("/v1/chat/completions", json={"model": "m", "messages": [bad]})
        assert answer.status == 400 and (await answer.json())["error"]["param"] == param
    assert message["max_completion_tokens"] == {"type": "integer", "minimum": 1}


async def test_embeddings_input_may_not_be_empty(client: Client) -> None:
    schema = _body_schema(await _document(client), "/v1/embeddings")["properties"]["input"]
    assert {"type": "string", "minLength": 1} in schema["anyOf"]
    assert [s.get("minItems") for s in schema["anyOf"]] == [None, 1]
    for empty in ("", []):
        answer = await client.post("/v1/embeddings", json={"model": "m", "input": empty})
        assert answer.status == 400 and (await answer.json())["error"]["param"] == "input"


async def test_responses_tools_need_a_type_and_input_is_required(client: Client) -> None:
    schema = _body_schema(await _document(client), "/v1/responses")
    assert schema["required"] == ["model", "input"]
    assert schema["properties"]["tools"]["items"]["required"] == ["type"]
    for body, param in (
        ({"model": "m"}, "input"),
        ({"model": "m", "input": "x", "tools": [{}]}, "tools[0].type"),
    ):
        answer = await client.post("/v1/responses", json=body)
        assert answer.status == 400 and (await answer.json())["error"]["param"] == param


async def test_messages_takes_max_tokens_written_as_a_whole_float(client: Client) -> None:
    body = {
        "model": "nobody/m",
        "max_tokens": 1110.0,
        "messages": [{"role": "user", "content": "x"}],
    }
    answer = await client.post("/v1/messages", json=body)
    assert answer.status == 404  # past validation: no provider serves it
    answer = await client.post("/v1/messages", json={**body, "max_tokens": 0.5})
    assert answer.status == 400 and "max_tokens" in (await answer.json())["error"]["message"]


def test_names_refuse_exactly_what_the_pattern_states() -> None:
    pattern = re.compile(NO_CONTROLS)
    for text in ("gpt-4o", "modèle ñ", "名前", "a b", "\U000612eb"):  # unassigned: still taken
        assert pattern.match(text) and check_no_controls(text) == text
    for text in ("a\x07", "a\nb", "\x9b[31m", "a\u2028b", "\u202eevil"):
        assert not pattern.match(text)
        with pytest.raises(ValueError, match="control"):
            check_no_controls(text)


async def test_keys_models_and_name_rules(client: Client) -> None:
    document = await _document(client)
    new_key = _body_schema(document, "/api/v1/keys")
    assert new_key["properties"]["models"]["anyOf"][0]["items"]["pattern"] == NO_CONTROLS
    answer = await client.post("/api/v1/keys", json={"name": "k", "models": ["\u00f7\U000612eb"]})
    assert answer.status == 201
    answer = await client.post("/api/v1/keys", json={"name": "k", "models": ["a\x07"]})
    assert answer.status == 400 and (await answer.json())["error"]["param"] == "models.0"
    key_id = (await (await client.post("/api/v1/keys", json={"name": "k"})).json())["id"]
    changes = _body_schema(document, "/api/v1/keys/{key_id}", "patch")["properties"]["name"]
    assert changes["type"] == "string"  # not nullable: a key keeps a name
    answer = await client.patch(f"/api/v1/keys/{key_id}", json={"name": None})
    assert answer.status == 400 and (await answer.json())["error"]["param"] == "name"
    answer = await client.patch(f"/api/v1/keys/{key_id}", json={"rpm": 60.0})
    assert answer.status == 200 and (await answer.json())["rpm"] == 60


async def test_provider_template_is_an_enum_of_the_loaded_templates(client: Client) -> None:
    document = await _document(client)
    templates = sorted(
        t["id"] for t in (await (await client.get("/api/v1/templates")).json())["data"]
    )
    body = _body_schema(document, "/api/v1/providers")
    assert body["properties"]["template"]["enum"] == templates
    needs = {
        rule["then"]["required"][0]: rule["if"]["properties"]["template"]["enum"]
        for rule in body["allOf"]
    }
    assert "azure-openai" in needs["base_url"] and "openai" in needs["api_key"]
    assert "ollama" not in needs["api_key"]
    draft = _body_schema(document, "/api/v1/providers/test")["properties"]["provider"]
    assert draft["properties"]["template"]["enum"] == templates
    answer = await client.post("/api/v1/providers", json={"name": "X", "template": "nope"})
    assert answer.status == 400 and (await answer.json())["error"]["param"] == "template"
    answer = await client.post(
        "/api/v1/providers", json={"name": "X", "template": "azure-openai", "api_key": "k"}
    )
    assert answer.status == 400 and (await answer.json())["error"]["param"] == "base_url"


async def test_provider_headers_and_urls_as_described(client: Client) -> None:
    body = _body_schema(await _document(client), "/api/v1/providers")["properties"]
    names = body["headers"]["propertyNames"]
    reserved = re.compile(names["not"]["pattern"])
    assert all(reserved.match(name.upper()) and reserved.match(name) for name in RESERVED_HEADERS)
    assert not reserved.match("X-Custom")
    url = re.compile(body["base_url"]["anyOf"][0]["pattern"])
    assert url.match("http://127.0.0.1:11434/v1") and not url.match("ftp://x")
    assert not url.match("http://h:70000/") and not url.match("http://h/?q=1")
    answer = await client.post(
        "/api/v1/providers", json={"name": "P", "template": "ollama", "base_url": "http://h:70000/"}
    )
    assert answer.status == 400 and (await answer.json())["error"]["param"] == "base_url"


async def test_provider_test_model_may_not_be_empty(client: Client) -> None:
    draft = _body_schema(await _document(client), "/api/v1/providers/test")
    assert draft["properties"]["model"]["minLength"] == 1
    body = {"provider": {"name": "P", "template": "ollama"}, "model": ""}
    answer = await client.post("/api/v1/providers/test", json=body)
    assert answer.status == 400 and (await answer.json())["error"]["param"] == "model"


async def test_usage_query_empty_values_range_and_span(client: Client) -> None:
    answer = await client.get("/api/v1/usage?from=&to=&key_id=&group_by=")
    assert answer.status == 200
    answer = await client.get("/api/v1/usage?from=2026-03-10&to=2026-03-01")
    assert answer.status == 200  # from after to: no day
    empty = await answer.json()
    assert (empty["from"], empty["to"], empty["data"]) == ("2026-03-10", "2026-03-01", [])
    answer = await client.get("/api/v1/usage?from=2001-01-01&to=2026-03-01")
    clamped = await answer.json()  # at most 400 days, the latest ones; the answer says which
    assert (clamped["from"], clamped["to"]) == ("2025-01-26", "2026-03-01")
    answer = await client.get("/api/v1/usage?to=9999-12-31T23:00:00-05:00")
    assert answer.status == 200 and (await answer.json())["to"] == "9999-12-31"
    answer = await client.get("/api/v1/usage?to=2026-13-01")
    assert answer.status == 400 and (await answer.json())["error"]["param"] == "to"
    answer = await client.get("/api/v1/usage/logs?limit=&before=&status=")
    assert answer.status == 200
    answer = await client.get("/api/v1/usage/logs?limit=0")
    assert answer.status == 400


async def test_usage_parameters_are_described(client: Client) -> None:
    document = await _document(client)
    params = {
        p["name"]: p["schema"] for p in document["paths"]["/api/v1/usage/logs"]["get"]["parameters"]
    }
    assert params["limit"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert re.match(params["status"]["pattern"], "404") and not re.match(
        params["status"]["pattern"], "600"
    )
    usage = {p["name"]: p for p in document["paths"]["/api/v1/usage"]["get"]["parameters"]}
    assert "from after to covers no day" in usage["from"]["description"]
    assert orjson.dumps(usage["to"]["schema"]).count(b"format") == 2
