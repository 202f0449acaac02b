"""GET /api/v1/models: every model of every enabled provider, as ``provider_id/model``;
GET /api/v1/models/{id}: one of them (the SDKs' ``models.retrieve``; ids hold ``/``).

A provider's models: its static list and aliases, plus what its upstream lists
(through the model catalog), filtered by its allow-list. A request with an
``anthropic-version`` header (Anthropic's SDKs) gets Anthropic's list shape,
paginated with ``limit``, ``after_id`` and ``before_id`` as Anthropic does.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from aiohttp import web

from gateway.endpoints import Operation, add_route
from gateway.errors import InvalidRequest, NotFound
from gateway.providers.catalog import MODEL_CATALOG
from gateway.providers.router import ROUTER
from gateway.routes.common import optional_parameter

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


ANTHROPIC_PAGE: Final = 20
"""Anthropic's default page size."""
ANTHROPIC_MAX_PAGE: Final = 1000
EPOCH: Final = "1970-01-01T00:00:00Z"
"""``created_at`` for every model: the gateway does not know when a model was released."""


def _anthropic_page(request: web.Request, ids: list[str]) -> dict[str, Any]:
    """One page of Anthropic's model list over ``ids``."""
    raw_limit = request.query.get("limit", str(ANTHROPIC_PAGE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= ANTHROPIC_MAX_PAGE:
        raise InvalidRequest(f"must be an integer from 1 to {ANTHROPIC_MAX_PAGE}", param="limit")
    limit = int(raw_limit)
    after, before = request.query.get("after_id"), request.query.get("before_id")
    if before is not None:
        end = ids.index(before) if before in ids else len(ids)
        page, more = ids[max(0, end - limit) : end], end - limit > 0
    else:
        start = ids.index(after) + 1 if after in ids else 0
        page, more = ids[start : start + limit], start + limit < len(ids)
    return {
        "data": [{"type": "model", "id": m, "display_name": m, "created_at": EPOCH} for m in page],
        "has_more": more,
        "first_id": page[0] if page else None,
        "last_id": page[-1] if page else None,
    }


ANTHROPIC_MODEL_LIST_SCHEMA = {
    "type": "object",
    "required": ["data", "has_more", "first_id", "last_id"],
    "properties": {
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "id", "display_name", "created_at"],
                "properties": {
                    "type": {"type": "string", "enum": ["model"]},
                    "id": {"type": "string"},
                    "display_name": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
            },
        },
        "has_more": {"type": "boolean"},
        "first_id": {"type": ["string", "null"]},
        "last_id": {"type": ["string", "null"]},
    },
}


async def list_models(request: web.Request) -> web.Response:
    listed = await _known_models(request)
    body: dict[str, Any]
    if "anthropic-version" in request.headers:
        body = _anthropic_page(request, [f"{provider_id}/{model}" for provider_id, model in listed])
    else:
        data = [_model(f"{provider_id}/{model}", provider_id) for provider_id, model in listed]
        body = {"object": "list", "data": data}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


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
        errors="negotiated",
        operation=Operation(
            summary="List the models of every enabled provider (OpenAI-compatible)",
            description=(
                "With an anthropic-version header the list is in Anthropic's shape "
                "(data of {type, id, display_name, created_at}, has_more, first_id, "
                "last_id; limit, after_id and before_id page through it)."
            ),
            tag="models",
            parameters=(
                optional_parameter("header", "anthropic-version", "Answer in Anthropic's shape."),
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": ANTHROPIC_MAX_PAGE},
                },
                {
                    "name": "after_id",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                },
                {
                    "name": "before_id",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                },
            ),
            responses={
                200: {
                    "description": "Model list",
                    "schema": {"oneOf": [MODEL_LIST_SCHEMA, ANTHROPIC_MODEL_LIST_SCHEMA]},
                },
                400: "Invalid paging parameter (Anthropic's shape only)",
            },
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
