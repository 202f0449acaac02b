"""CRUD over /api/v1/providers: thin handlers over the provider registry."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.endpoints import Operation, add_route
from gateway.errors import InvalidRequest, NotFound
from gateway.providers.records import ProviderRecord, provider_schema
from gateway.providers.registry import PROVIDERS
from gateway.providers.templates import TEMPLATES
from gateway.routes.common import body_schema, inline_refs, read_json_object

PROVIDER_SCHEMA = inline_refs(provider_schema())
LIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": PROVIDER_SCHEMA},
    },
}


def _view(record: ProviderRecord) -> dict[str, Any]:
    return {"object": "provider", **record.public()}


def _location(request: web.Request, provider_id: str) -> str:
    return f"{request.path.rstrip('/')}/{provider_id}"


def _enabled_filter(request: web.Request) -> bool | None:
    raw = request.query.get("enabled")
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise InvalidRequest("enabled must be true or false.", param="enabled")


async def list_providers(request: web.Request) -> web.Response:
    enabled = _enabled_filter(request)
    template = request.query.get("template")
    records = [
        record
        for record in request.app[PROVIDERS].records()
        if (enabled is None or record.enabled == enabled)
        and (template is None or record.template == template)
    ]
    return web.json_response({"object": "list", "data": [_view(r) for r in records]})


async def create_provider(request: web.Request) -> web.Response:
    data, _raw = await read_json_object(request)
    record = await request.app[PROVIDERS].create(data)
    return web.json_response(
        _view(record), status=201, headers={"Location": _location(request, record.id)}
    )


async def get_provider(request: web.Request) -> web.Response:
    provider_id = request.match_info["provider_id"]
    record = request.app[PROVIDERS].record(provider_id)
    if record is None:
        raise NotFound(f"No provider with id {provider_id!r}.", param="provider_id")
    return web.json_response(_view(record))


async def update_provider(request: web.Request) -> web.Response:
    provider_id = request.match_info["provider_id"]
    registry = request.app[PROVIDERS]
    if registry.record(provider_id) is None:
        raise NotFound(f"No provider with id {provider_id!r}.", param="provider_id")
    data, _raw = await read_json_object(request)
    record = await registry.update(provider_id, data)
    return web.json_response(_view(record))


async def delete_provider(request: web.Request) -> web.Response:
    await request.app[PROVIDERS].delete(request.match_info["provider_id"])
    return web.Response(status=204)


COLLECTION_PATH = "/api/v1/providers"
ITEM_PATH = "/api/v1/providers/{provider_id}"
WRITE_ERRORS: dict[int, str] = {
    400: "Invalid provider; error.param names the first invalid field",
    409: "Duplicate id, or a provider defined in providers.d (read-only)",
    413: "Body over the admin limit",
    415: "Content-Type is not application/json",
}


def setup(app: web.Application) -> None:
    templates = app[TEMPLATES]
    add_route(
        app,
        "GET",
        COLLECTION_PATH,
        list_providers,
        group="admin",
        operation=Operation(
            summary="List providers",
            tag="providers",
            parameters=(
                {"name": "enabled", "in": "query", "schema": {"type": "boolean"}},
                {"name": "template", "in": "query", "schema": {"type": "string"}},
            ),
            responses={
                200: {"description": "API and providers.d providers", "schema": LIST_SCHEMA}
            },
        ),
    )
    add_route(
        app,
        "POST",
        COLLECTION_PATH,
        create_provider,
        group="admin",
        operation=Operation(
            summary="Add a provider",
            tag="providers",
            request_schema=body_schema(templates, new=True),
            responses={
                201: {"description": "Created; Location names it", "schema": PROVIDER_SCHEMA},
                **WRITE_ERRORS,
            },
        ),
    )
    add_route(
        app,
        "GET",
        ITEM_PATH,
        get_provider,
        group="admin",
        operation=Operation(
            summary="Get one provider",
            tag="providers",
            responses={
                200: {"description": "The provider", "schema": PROVIDER_SCHEMA},
                404: "No such provider",
            },
        ),
    )
    for method in ("PUT", "PATCH"):
        add_route(
            app,
            method,
            ITEM_PATH,
            update_provider,
            group="admin",
            operation=Operation(
                summary="Change a provider",
                description=(
                    "Fields present replace the stored ones; api_key absent keeps the stored "
                    "key and api_key null removes it; the id cannot change. PUT and PATCH "
                    "mean the same."
                ),
                tag="providers",
                request_schema=body_schema(templates, new=False),
                responses={
                    200: {"description": "The changed provider", "schema": PROVIDER_SCHEMA},
                    404: "No such provider",
                    **WRITE_ERRORS,
                },
            ),
        )
    add_route(
        app,
        "DELETE",
        ITEM_PATH,
        delete_provider,
        group="admin",
        operation=Operation(
            summary="Remove a provider",
            tag="providers",
            responses={
                204: "Removed",
                404: "No such provider",
                409: "Defined in providers.d (read-only)",
            },
        ),
    )
