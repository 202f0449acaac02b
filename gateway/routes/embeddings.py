"""POST /api/v1/embeddings: through providers whose adapter supports embeddings."""

from __future__ import annotations

from aiohttp import web

from gateway.adapters import ADAPTERS
from gateway.errors import InvalidRequest
from gateway.middleware.rate_limit import check_tokens_per_minute
from gateway.providers.router import ROUTER
from gateway.proxy import complete
from gateway.routes.body import read_json_object
from gateway.routes.chat import ERRORS, PROVIDER_HEADER
from gateway.routes.table import Operation, add_route
from gateway.validation import validate_embeddings

EMBEDDINGS_REQUEST_SCHEMA = {
    "type": "object",
    "required": ["model", "input"],
    "additionalProperties": True,
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "input": {"type": ["string", "array"]},
    },
}


async def embeddings(request: web.Request) -> web.Response:
    body, raw = await read_json_object(request)
    model = validate_embeddings(body)
    candidates = [
        c
        for c in request.app[ROUTER].candidates(model, request.headers.get("X-Gateway-Provider"))
        if (adapter := ADAPTERS.get(c.provider.adapter)) is not None and adapter.supports_embeddings
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
        lambda adapter, payload: adapter.parse_embeddings(payload, model),
    )


def setup(app: web.Application) -> None:
    add_route(
        app,
        "POST",
        "/api/v1/embeddings",
        embeddings,
        group="chat",
        also_v1=True,
        operation=Operation(
            summary="Create embeddings (OpenAI-compatible)",
            tag="chat",
            request_schema=EMBEDDINGS_REQUEST_SCHEMA,
            parameters=(PROVIDER_HEADER,),
            responses={
                200: {"description": "An embeddings list", "schema": {"type": "object"}},
                **ERRORS,
            },
        ),
    )
