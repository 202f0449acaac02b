"""GET /api/v1/models: every model of every enabled provider, as ``provider_id/model``.

A provider's models: its static list and aliases, plus what its upstream lists
(through the model catalog), filtered by its allow-list.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway.providers.catalog import MODEL_CATALOG
from gateway.providers.router import ROUTER
from gateway.routes.table import Operation, add_route

MODEL_LIST_SCHEMA = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {
        "object": {"type": "string", "enum": ["list"]},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "object", "owned_by"],
                "properties": {
                    "id": {"type": "string"},
                    "object": {"type": "string", "enum": ["model"]},
                    "created": {"type": "integer"},
                    "owned_by": {"type": "string"},
                },
            },
        },
    },
}


async def list_models(request: web.Request) -> web.Response:
    router = request.app[ROUTER]
    # The upstream lists come from the catalog: cached, or fetched now (failures leave them out).
    await request.app[MODEL_CATALOG].prefetch(p.id for p in router.directory.all() if p.enabled)
    data = [
        {"id": f"{provider_id}/{model}", "object": "model", "created": 0, "owned_by": provider_id}
        for provider_id, model in router.models()
    ]
    return web.Response(
        body=orjson.dumps({"object": "list", "data": data}), content_type="application/json"
    )


def setup(app: web.Application) -> None:
    add_route(
        app,
        "GET",
        "/api/v1/models",
        list_models,
        group="models",
        also_v1=True,
        operation=Operation(
            summary="List the models of every enabled provider (OpenAI-compatible)",
            tag="models",
            responses={200: {"description": "Model list", "schema": MODEL_LIST_SCHEMA}},
        ),
    )
