"""POST /api/v1/messages and /messages/count_tokens: Anthropic's Messages API over every provider.

Same keys, scopes, model allow-lists, limits, routing and metrics as chat;
errors in Anthropic's shape. Anthropic providers get the client's body (and
its ``anthropic-version`` / ``anthropic-beta`` headers) as it is; the others
get it translated (gateway/messages). ``count_tokens`` is exact from an
Anthropic provider and estimated locally for the others.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import orjson
from aiohttp import web

from gateway.adapters.base import JSON, Adapter, UpstreamRequest
from gateway.adapters.shapes import load_object
from gateway.endpoints import Operation
from gateway.errors import InvalidRequest
from gateway.keys.policy import permitted
from gateway.limits import check_tokens_per_minute
from gateway.messages import request as messages_request
from gateway.messages import tokens
from gateway.messages.format import MessagesFormat
from gateway.providers.router import ROUTER, Candidate
from gateway.proxy.complete import complete, complete_as
from gateway.proxy.stream import stream_as
from gateway.routes.common import add_model_route, optional_parameter, read_json_object
from gateway.validation import encode

COUNT_HEADER: Final = "X-Gateway-Token-Count"
ESTIMATED: Final = f"estimate; tokenizer={tokens.TOKENIZER}"

HEADERS: tuple[dict[str, Any], ...] = (
    optional_parameter("header", "anthropic-version", "Forwarded to Anthropic providers."),
    optional_parameter("header", "anthropic-beta", "Forwarded to Anthropic providers."),
)
"""Besides the provider header every model route takes."""

MESSAGES_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["model", "max_tokens", "messages"],
    "additionalProperties": True,
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"type": "string", "enum": ["user", "assistant"]},
                    "content": {"type": ["string", "array"]},
                },
            },
        },
        "system": {"type": ["string", "array"]},
        "stream": {"type": "boolean"},
        "stop_sequences": {"type": "array", "items": {"type": "string"}},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "top_p": {"type": "number"},
        "top_k": {"type": "integer"},
        "tools": {"type": "array"},
        "tool_choice": {"type": "object"},
        "thinking": {"type": "object"},
        "metadata": {"type": "object"},
    },
}

COUNT_REQUEST_SCHEMA: dict[str, Any] = {
    **MESSAGES_REQUEST_SCHEMA,
    "required": ["model", "messages"],
}

ANTHROPIC_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"type": "string", "enum": ["error"]},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}

ERRORS: dict[int, dict[str, Any]] = {
    status: {"description": description, "schema": ANTHROPIC_ERROR_SCHEMA}
    for status, description in {
        400: "invalid_request_error (the message names the field)",
        401: "authentication_error: missing or wrong API key",
        403: "permission_error: the key may not use this model",
        404: "not_found_error: no provider serves this model",
        413: "request_too_large",
        415: "invalid_request_error: the body is not JSON",
        429: "rate_limit_error (retry-after says when)",
        502: "api_error: the provider failed",
        503: "overloaded_error: no provider available (retry-after says when)",
        504: "api_error: the provider timed out",
    }.items()
}


def _candidates(request: web.Request, model: str) -> list[Candidate]:
    return request.app[ROUTER].candidates(model, request.headers.get("X-Gateway-Provider"))


async def create_message(request: web.Request) -> web.StreamResponse:
    body, raw = await read_json_object(request)
    params = messages_request.params(body)
    if params.rewritten:
        raw = encode(body)
    candidates = _candidates(request, params.model)
    await check_tokens_per_minute(request)
    fmt = MessagesFormat(body, raw, params, request.headers)
    if params.stream:
        return await stream_as(request, candidates, fmt)
    return await complete_as(request, candidates, fmt)


async def count_tokens(request: web.Request) -> web.StreamResponse:
    """Exact from an Anthropic provider (the first candidate), else the local estimate."""
    body, raw = await read_json_object(request)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("must be a non-empty string", param="model")
    if not isinstance(body.get("messages"), list):
        raise InvalidRequest("must be a list", param="messages")
    candidates = permitted(request, _candidates(request, model))
    native = [c for c in candidates if c.provider.target.paths.messages]
    if not native or native[0] is not candidates[0]:
        count = await asyncio.to_thread(tokens.estimate, body)
        return web.Response(
            body=orjson.dumps({"input_tokens": count}),
            content_type="application/json",
            headers={
                COUNT_HEADER: ESTIMATED,
                "X-Gateway-Provider": candidates[0].provider.id,
            },
        )
    fmt = MessagesFormat(
        body, raw, messages_request.MessagesParams(model, False, ()), request.headers
    )

    def build(_adapter: Adapter, candidate: Candidate) -> UpstreamRequest:
        target = candidate.provider.target
        path = f"{target.paths.messages}/count_tokens"
        return UpstreamRequest(
            "POST",
            target.url(path, candidate.upstream_model),
            {**target.json_headers, **fmt.native_headers()},
            fmt.native_body(candidate.upstream_model),
            target.query,
        )

    def parse(_adapter: Adapter, payload: bytes) -> JSON:
        return load_object(payload, "token count")

    response = await complete(request, native, build, parse)
    response.headers[COUNT_HEADER] = "exact"
    return response


def setup(app: web.Application) -> None:
    add_model_route(
        app,
        "/api/v1/messages",
        create_message,
        Operation(
            summary="Create a message (Anthropic's Messages API; SSE events when stream is true)",
            description=(
                "Served by every provider: Anthropic ones get the body as it is, others a "
                "translation. Send the gateway key as x-api-key or Authorization: Bearer."
            ),
            tag="messages",
            request_schema=MESSAGES_REQUEST_SCHEMA,
            parameters=HEADERS,
            responses={
                200: {
                    "description": "An Anthropic Message, or its event stream",
                    "schema": {"type": "object"},
                }
            },
        ),
        errors="anthropic",
        error_docs=ERRORS,
    )
    add_model_route(
        app,
        "/api/v1/messages/count_tokens",
        count_tokens,
        Operation(
            summary="Count a message's input tokens (exact from Anthropic, else an estimate)",
            description=(
                f"For providers other than Anthropic the count is an estimate with the "
                f"{tokens.TOKENIZER} tokenizer; the {COUNT_HEADER} header says "
                "'exact' or 'estimate; tokenizer=...'."
            ),
            tag="messages",
            request_schema=COUNT_REQUEST_SCHEMA,
            parameters=HEADERS,
            responses={
                200: {
                    "description": "The input token count",
                    "schema": {
                        "type": "object",
                        "required": ["input_tokens"],
                        "properties": {"input_tokens": {"type": "integer"}},
                    },
                }
            },
        ),
        errors="anthropic",
        error_docs=ERRORS,
    )
