"""The Responses API: POST /v1/responses, GET/DELETE /v1/responses/{id}, its input_items.

Creation runs the chat pipeline through the proxy's ClientFormat hook
(gateway/responses/format.py); stored responses belong to the gateway key that
made them: another key gets 404, the admin key sees all.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web

from gateway.adapters.base import JSON
from gateway.cluster.client import REDIS
from gateway.endpoints import Operation, add_route
from gateway.errors import GatewayError, InvalidRequest, NotFound
from gateway.keys.principal import ADMIN, PRINCIPAL
from gateway.limits import check_tokens_per_minute
from gateway.providers.router import ROUTER
from gateway.proxy.complete import complete_as
from gateway.proxy.stream import stream_as
from gateway.responses.format import ResponsesFormat
from gateway.responses.objects import input_resources
from gateway.responses.request import FUNCTION_TOOL, PART_TYPES, ROLES, parse_request
from gateway.responses.store import FileResponses, RedisResponses, ResponseStore, StoredResponse
from gateway.routes.common import add_model_route, read_json_object
from gateway.state import SETTINGS
from gateway.storage.crypto import load_cipher

logger = logging.getLogger("gateway.responses")

RESPONSE_STORE = web.AppKey("response_store", ResponseStore)
STORED: frozenset[str] = frozenset({"completed", "incomplete"})

_PART: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": sorted(PART_TYPES)}},
    "if": {"properties": {"type": {"enum": ["input_text", "output_text"]}}},
    "then": {"required": ["text"], "properties": {"text": {"type": "string"}}},
}
INPUT_ITEM: dict[str, Any] = {
    "type": "object",
    "description": "A message (type may be left out), function_call, function_call_output "
    "or reasoning item",
    "anyOf": [
        {
            "required": ["role", "content"],
            "properties": {
                "type": {"const": "message"},
                "role": {"enum": sorted(ROLES)},
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _PART}]},
            },
        },
        {
            "required": ["type", "call_id", "name", "arguments"],
            "properties": {
                "type": {"const": "function_call"},
                **{name: {"type": "string"} for name in ("call_id", "name", "arguments")},
            },
        },
        {
            "required": ["type", "call_id", "output"],
            "properties": {
                "type": {"const": "function_call_output"},
                "call_id": {"type": "string"},
                "output": {"type": ["string", "array"]},
            },
        },
        {
            "required": ["type"],
            "properties": {"type": {"const": "reasoning"}, "summary": {"type": "array"}},
        },
    ],
}
TOOL: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string"}},
    "if": {"properties": {"type": {"const": FUNCTION_TOOL}}},
    "then": {"required": ["name"], "properties": {"name": {"type": "string"}}},
}
CREATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["model", "input"],
    "additionalProperties": True,
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": INPUT_ITEM}]},
        "instructions": {"type": ["string", "null"]},
        "stream": {"type": "boolean"},
        "store": {"type": "boolean"},
        "parallel_tool_calls": {"type": "boolean"},
        "background": {"const": False, "description": "Background responses are not served"},
        "previous_response_id": {"type": ["string", "null"], "minLength": 1},
        "tools": {"type": "array", "items": TOOL},
        "text": {"type": "object"},
        "reasoning": {"type": "object"},
        "include": {"type": "array"},
        "max_output_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def _owner(request: web.Request) -> str | None:
    principal = request.get(PRINCIPAL)
    return principal.key_id if principal is not None else None


def _sees(request: web.Request, record: StoredResponse) -> bool:
    """The key that made it, the admin key, or anyone when auth is off."""
    principal = request.get(PRINCIPAL)
    if principal is None or principal.key_id is None or principal == ADMIN:
        return True
    return bool(record.owner == principal.key_id)


async def _stored(request: web.Request, response_id: str, param: str | None) -> StoredResponse:
    store = request.app.get(RESPONSE_STORE)
    record = await store.get(response_id) if store is not None else None
    if record is None or not _sees(request, record):
        raise NotFound(f"No response with id '{response_id[:100]}'.", param=param)
    return record


async def create_response(request: web.Request) -> web.StreamResponse:
    body, raw = await read_json_object(request)
    parsed = parse_request(body, raw)
    store = request.app.get(RESPONSE_STORE)
    history: list[JSON] | None = []
    inline = False
    if parsed.previous_response_id is not None:
        if store is None:
            raise InvalidRequest(
                "previous_response_id needs stored responses, and this gateway stores none "
                "(responses.store is false); send the conversation in 'input' instead.",
                param="previous_response_id",
            )
        previous = await store.get(parsed.previous_response_id)
        if previous is not None and not _sees(request, previous):
            raise NotFound(
                f"No stored response '{parsed.previous_response_id[:100]}' for this key.",
                param="previous_response_id",
            )
        # Unknown here: a native provider may know it, a translated one answers 404.
        history = previous.conversation() if previous is not None else None
        inline = previous is not None and not previous.native
    candidates = request.app[ROUTER].candidates(
        parsed.model, request.headers.get("X-Gateway-Provider")
    )
    await check_tokens_per_minute(request)
    fmt = ResponsesFormat(parsed, history, inline)
    if parsed.stream:
        answer = await stream_as(request, candidates, fmt)
    else:
        answer = await complete_as(request, candidates, fmt)
    result = fmt.result
    if store is not None and parsed.store and result is not None and result.get("status") in STORED:
        record = StoredResponse(
            _owner(request),
            fmt.native,
            history or [],
            input_resources(parsed.input),
            result,
        )
        try:
            await store.save(record)
        except (GatewayError, OSError, ValueError) as exc:
            logger.warning("response %s was not stored: %s", result.get("id"), exc)
    return answer


async def get_response(request: web.Request) -> web.Response:
    record = await _stored(request, request.match_info["response_id"], None)
    return _json(record.response)


async def delete_response(request: web.Request) -> web.Response:
    response_id = request.match_info["response_id"]
    await _stored(request, response_id, None)
    store = request.app[RESPONSE_STORE]
    await store.delete(response_id)
    return _json({"id": response_id, "object": "response", "deleted": True})


async def list_input_items(request: web.Request) -> web.Response:
    record = await _stored(request, request.match_info["response_id"], None)
    query = request.query
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("'order' must be asc or desc.", param="order")
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("'limit' must be an integer.", param="limit") from None
    if not 1 <= limit <= 100:
        raise InvalidRequest("'limit' must be between 1 and 100.", param="limit")
    items = record.input if order == "asc" else record.input[::-1]
    after = query.get("after")
    if after is not None:
        ids = [item.get("id") for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return _json(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
    )


def _json(body: JSON) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def _store_context(app: web.Application) -> AsyncIterator[None]:
    """The response store, once storage is open: in Redis (the worker's client) or in files."""
    settings = app[SETTINGS]
    if settings.responses.store:
        cipher = load_cipher(settings)
        client = app.get(REDIS)
        retention = settings.responses.retention_s
        if client is not None:
            timeout = settings.storage.redis_timeout_s
            app[RESPONSE_STORE] = RedisResponses(client, cipher, retention, timeout)
        else:
            folder = settings.storage.path / "responses"
            app[RESPONSE_STORE] = FileResponses(folder, cipher, retention)
    yield


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_store_context)
    path_param = {
        "name": "response_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    add_model_route(
        app,
        "/api/v1/responses",
        create_response,
        Operation(
            summary="Create a model response (OpenAI Responses API; typed SSE events when "
            "stream is true)",
            tag="responses",
            request_schema=CREATE_SCHEMA,
            responses={
                200: {
                    "description": "A response object, or an SSE stream of response events",
                    "schema": {"type": "object"},
                }
            },
        ),
    )
    for method, suffix, handler, summary in (
        ("GET", "", get_response, "A stored response"),
        ("DELETE", "", delete_response, "Delete a stored response"),
        ("GET", "/input_items", list_input_items, "The input items of a stored response"),
    ):
        add_route(
            app,
            method,
            "/api/v1/responses/{response_id}" + suffix,
            handler,
            group="chat",
            also_v1=True,
            operation=Operation(
                summary=summary,
                tag="responses",
                parameters=(path_param,),
                responses={
                    200: {"description": summary, "schema": {"type": "object"}},
                    404: "No such response for this key",
                },
            ),
        )
