"""POST /api/v1/chat/completions: validate, pick providers, relay (JSON or SSE)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.endpoints import Operation
from gateway.limits import check_tokens_per_minute
from gateway.providers.router import ROUTER
from gateway.proxy.complete import complete
from gateway.proxy.stream import stream
from gateway.routes.common import add_model_route, read_json_object
from gateway.validation import encode, validate_chat

_TEXT_PART: dict[str, Any] = {
    "if": {"properties": {"type": {"const": "text"}}},
    "then": {"required": ["text"], "properties": {"text": {"type": "string"}}},
}
_IMAGE_PART: dict[str, Any] = {
    "if": {"properties": {"type": {"const": "image_url"}}},
    "then": {
        "required": ["image_url"],
        "properties": {
            "image_url": {
                "anyOf": [
                    {"type": "string", "minLength": 1},
                    {
                        "type": "object",
                        "required": ["url"],
                        "properties": {"url": {"type": "string", "minLength": 1}},
                    },
                ]
            }
        },
    },
}
CONTENT_PART: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string", "minLength": 1}},
    "allOf": [_TEXT_PART, _IMAGE_PART],
}
TOOL_CALL: dict[str, Any] = {
    "type": "object",
    "required": ["function"],
    "properties": {
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
        }
    },
}
MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["role"],
    "description": "Every role but assistant needs content (an assistant's may be null); "
    "a tool message needs tool_call_id.",
    "properties": {
        "role": {
            "type": "string",
            "enum": ["system", "developer", "user", "assistant", "tool", "function"],
        },
        "content": {"type": ["string", "array", "null"], "items": CONTENT_PART},
        "tool_call_id": {"type": "string"},
        "tool_calls": {"type": ["array", "null"], "items": TOOL_CALL},
    },
    "allOf": [
        {
            "if": {"properties": {"role": {"not": {"const": "assistant"}}}},
            "then": {"required": ["content"], "properties": {"content": {"not": {"type": "null"}}}},
        },
        {"if": {"properties": {"role": {"const": "tool"}}}, "then": {"required": ["tool_call_id"]}},
    ],
}
CHAT_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["model", "messages"],
    "additionalProperties": True,
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "messages": {"type": "array", "minItems": 1, "items": MESSAGE},
        "stream": {"type": "boolean"},
        "stream_options": {
            "type": "object",
            "properties": {"include_usage": {"type": "boolean"}},
        },
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "n": {"type": "integer", "minimum": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "tools": {"type": "array"},
    },
}


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body, raw = await read_json_object(request)
    params = validate_chat(body)
    if params.rewritten:
        raw = encode(body)
    candidates = request.app[ROUTER].candidates(
        params.model, request.headers.get("X-Gateway-Provider")
    )
    await check_tokens_per_minute(request)
    if params.stream:
        return await stream(request, candidates, body, raw, params)
    return await complete(
        request,
        candidates,
        lambda adapter, c: adapter.build_chat(
            c.provider.target, body, raw, c.upstream_model, False
        ),
        lambda adapter, payload: adapter.parse_chat(payload, params.model),
    )


def setup(app: web.Application) -> None:
    add_model_route(
        app,
        "/api/v1/chat/completions",
        chat_completions,
        Operation(
            summary="Create a chat completion (OpenAI-compatible; SSE when stream is true)",
            tag="chat",
            request_schema=CHAT_REQUEST_SCHEMA,
            responses={
                200: {
                    "description": "A chat.completion, or an SSE stream of chat.completion.chunk",
                    "schema": {"type": "object"},
                }
            },
        ),
    )
