"""POST /api/v1/embeddings: through providers whose adapter supports embeddings."""

from __future__ import annotations

import base64
import struct

from aiohttp import web

from gateway.adapters import ADAPTERS
from gateway.adapters.base import JSON
from gateway.endpoints import Operation
from gateway.errors import InvalidRequest, UpstreamError
from gateway.limits import check_tokens_per_minute
from gateway.providers.router import ROUTER
from gateway.proxy.complete import complete
from gateway.routes.common import add_model_route, read_json_object
from gateway.validation import encode, validate_embeddings

EMBEDDINGS_REQUEST_SCHEMA = {
    "type": "object",
    "required": ["model", "input"],
    "additionalProperties": True,
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "input": {
            "description": "A string, a list of strings, a list of token ids, or a list of "
            "lists of token ids",
            "anyOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "anyOf": [
                            {"type": "string"},
                            {"type": "integer"},
                            {"type": "array", "items": {"type": "integer"}},
                        ]
                    },
                },
            ],
        },
        "encoding_format": {"type": "string", "enum": ["float", "base64"]},
    },
}
ENCODINGS = ("float", "base64")


def encoded(answer: JSON, encoding: str) -> JSON:
    """Vectors as the client asked: float lists, or base64 of little-endian float32s.

    OpenAI's SDKs ask for base64 by default and decode whatever comes; any
    upstream that answers with floats (Gemini, many compatible servers) is
    encoded here, so every adapter honours ``encoding_format``.
    """
    if encoding != "base64":
        return answer
    for item in answer.get("data") or ():
        vector = item.get("embedding") if isinstance(item, dict) else None
        if isinstance(vector, list):
            try:
                packed = struct.pack(f"<{len(vector)}f", *vector)
            except struct.error:
                raise UpstreamError("upstream embeddings hold non-numbers") from None
            item["embedding"] = base64.b64encode(packed).decode()
    return answer


async def embeddings(request: web.Request) -> web.Response:
    body, raw = await read_json_object(request)
    model, rewritten = validate_embeddings(body)
    if rewritten:
        raw = encode(body)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ENCODINGS:
        raise InvalidRequest("encoding_format must be float or base64.", param="encoding_format")
    adapters = request.app[ADAPTERS]
    candidates = [
        c
        for c in request.app[ROUTER].candidates(model, request.headers.get("X-Gateway-Provider"))
        if (adapter := adapters.get(c.provider.adapter)) is not None and adapter.supports_embeddings
    ]
    if not candidates:
        raise InvalidRequest(
            f"No provider serving '{model}' supports embeddings.",
            param="model",
            code="embeddings_unsupported",
        )
    await check_tokens_per_minute(request)
    return await complete(
        request,
        candidates,
        lambda adapter, c: adapter.build_embeddings(c.provider.target, body, raw, c.upstream_model),
        lambda adapter, payload: encoded(adapter.parse_embeddings(payload, model, body), encoding),
    )


def setup(app: web.Application) -> None:
    add_model_route(
        app,
        "/api/v1/embeddings",
        embeddings,
        Operation(
            summary="Create embeddings (OpenAI-compatible)",
            tag="chat",
            request_schema=EMBEDDINGS_REQUEST_SCHEMA,
            responses={200: {"description": "An embeddings list", "schema": {"type": "object"}}},
        ),
    )
