"""GET /api/v1/models: every model of every enabled provider, as ``provider_id/model``;
GET /api/v1/models/{id}: one of them (the SDKs' ``models.retrieve``; ids hold ``/``).

A provider's models: its static list and aliases, plus what its upstream lists
(through the model catalog), filtered by its allow-list.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway.errors import NotFound
from gateway.providers.catalog import MODEL_CATALOG
from gateway.providers.router import ROUTER
from gateway.routes.table import Operation, add_route

MODEL_SCHEMA = {
    "type": "object",
    "required": ["id", "object", "created", "owned_by"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["model"]},
        "created": {"type": "integer"},
        "owned_by": {"type": "string"},
    },
}
MODEL_LIST_SCHEMA = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {
        "object": {"type": "string", "enum": ["list"]},
        "data": {"type": "array", "items": MODEL_SCHEMA},
    },
}


def _model(model_id: str, provider_id: str) -> dict[str, object]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": provider_id}


async def _known_models(request: web.Request) -> list[tuple[str, str]]:
    router = request.app[ROUTER]
    # The upstream lists come from the catalog: cached, or fetched now (failures leave them out).
    await request.app[MODEL_CATALOG].prefetch(p.id for p in router.directory.all() if p.enabled)
    return router.models()


async def list_models(request: web.Request) -> web.Response:
    data = [
        _model(f"{provider_id}/{model}", provider_id)
        for provider_id, model in await _known_models(request)
    ]
    return web.Response(
        body=orjson.dumps({"object": "list", "data": data}), content_type="application/json"
    )


async def retrieve_model(request: web.Request) -> web.Response:
    """One listed model, by its ``provider_id/model`` id or by a bare name a provider lists."""
    wanted = request.match_info["model_id"]
    known = await _known_models(request)
    found = next((pid for pid, model in known if f"{pid}/{model}" == wanted), None)
    if found is None:
        found = next((pid for pid, model in known if model == wanted), None)
    if found is None:
        raise NotFound(
            f"The model '{wanted}' does not exist.", param="model", code="model_not_found"
        )
    return web.Response(body=orjson.dumps(_model(wanted, found)), content_type="application/json")


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
    add_route(
        app,
        "GET",
        "/api/v1/models/{model_id:.+}",
        retrieve_model,
        group="models",
        also_v1=True,
        operation=Operation(
            summary="Retrieve one model (OpenAI-compatible; ids contain '/')",
            tag="models",
            responses={
                200: {"description": "The model", "schema": MODEL_SCHEMA},
                404: "No enabled provider lists this model",
            },
        ),
    )
