"""/api/v1/keys: create (the key is shown once), list, show and revoke gateway API keys."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.endpoints import Operation, add_route
from gateway.errors import InvalidRequest, NotFound
from gateway.keys import KEYS
from gateway.keys.spec import KeyChanges, NewKey, issue_key
from gateway.ledger.service import LEDGER, SPEND_SCHEMA
from gateway.routes.common import read_json_object

KEY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "prefix", "scopes", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "prefix": {"type": "string", "description": "The key's first characters, as a hint"},
        "scopes": {"type": "array", "items": {"enum": ["chat", "models", "admin"]}},
        "models": {"type": ["array", "null"], "items": {"type": "string"}},
        "rpm": {"type": ["integer", "null"]},
        "tpm": {"type": ["integer", "null"]},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
        "revoked_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "When the key was revoked; a revoked key stays listed, unusable",
        },
        "budget_usd": {"type": ["number", "null"], "description": "USD per budget period"},
        "max_tokens": {"type": ["integer", "null"], "description": "Tokens per budget period"},
        "budget_period": {"enum": ["day", "month", "total"]},
    },
}
USED_KEY_SCHEMA: dict[str, Any] = {
    **KEY_SCHEMA,
    "properties": {
        **KEY_SCHEMA["properties"],
        "spend": SPEND_SCHEMA,
        "last_used_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
CREATED_SCHEMA: dict[str, Any] = {
    **KEY_SCHEMA,
    "required": [*KEY_SCHEMA["required"], "key"],
    "properties": {
        **KEY_SCHEMA["properties"],
        "key": {"type": "string", "description": "The key itself, shown only in this response"},
    },
}
NEW_KEY_SCHEMA = NewKey.model_json_schema()
KEY_CHANGES_SCHEMA = KeyChanges.model_json_schema()
KEY_CHANGES_SCHEMA["properties"]["name"] = NEW_KEY_SCHEMA["properties"]["name"]  # never null


def _invalid(exc: ValidationError) -> InvalidRequest:
    first = exc.errors()[0]
    param = ".".join(str(part) for part in first["loc"]) or None
    message = first["msg"].removeprefix("Value error, ")
    return InvalidRequest(f"{param or 'body'}: {message}", param=param)


async def create_key(request: web.Request) -> web.Response:
    data, _raw = await read_json_object(request)
    try:
        spec = NewKey.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None
    key, meta = await issue_key(request.app[KEYS], spec)
    return web.json_response({**meta, "key": key}, status=201)


async def _with_usage(request: web.Request, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Key views with their spend this budget period and last use (when the ledger is on)."""
    ledger = request.app.get(LEDGER)
    if ledger is not None:
        await ledger.key_views(keys)
    return keys


async def list_keys(request: web.Request) -> web.Response:
    keys = await _with_usage(request, await request.app[KEYS].list())
    return web.json_response({"object": "list", "data": keys})


async def show_key(request: web.Request) -> web.Response:
    found = await request.app[KEYS].get(request.match_info["key_id"])
    if found is None:
        raise NotFound("No key has this id.", param="key_id")
    (shown,) = await _with_usage(request, [found])
    return web.json_response(shown)


async def change_key(request: web.Request) -> web.Response:
    data, _raw = await read_json_object(request)
    try:
        spec = KeyChanges.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None
    changes = spec.model_dump(include=spec.model_fields_set)
    if changes.get("name", "") is None:
        raise InvalidRequest("name: a key keeps a name", param="name")
    if "budget_period" in changes and changes["budget_period"] is None:
        changes["budget_period"] = "month"
    found = await request.app[KEYS].update(request.match_info["key_id"], changes)
    if found is None:
        raise NotFound("No key has this id.", param="key_id")
    (shown,) = await _with_usage(request, [found])
    return web.json_response(shown)


async def revoke_key(request: web.Request) -> web.Response:
    key_id = request.match_info["key_id"]
    if not await request.app[KEYS].revoke(key_id):
        raise NotFound("No active key has this id.", param="key_id")
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    add_route(
        app,
        "POST",
        "/api/v1/keys",
        create_key,
        group="admin",
        operation=Operation(
            summary="Create a gateway API key (shown once)",
            tag="keys",
            request_schema=NEW_KEY_SCHEMA,
            responses={201: {"description": "Created", "schema": CREATED_SCHEMA}},
        ),
    )
    add_route(
        app,
        "GET",
        "/api/v1/keys",
        list_keys,
        group="admin",
        operation=Operation(
            summary="List gateway API keys (metadata only)",
            tag="keys",
            responses={
                200: {
                    "description": "Every key, revoked ones included (with revoked_at)",
                    "schema": {
                        "type": "object",
                        "properties": {"data": {"type": "array", "items": USED_KEY_SCHEMA}},
                    },
                }
            },
        ),
    )
    add_route(
        app,
        "GET",
        "/api/v1/keys/{key_id}",
        show_key,
        group="admin",
        operation=Operation(
            summary="Show one key's metadata, spend this budget period and last use",
            tag="keys",
            responses={
                200: {"description": "The key", "schema": USED_KEY_SCHEMA},
                404: "Unknown id",
            },
        ),
    )
    add_route(
        app,
        "PATCH",
        "/api/v1/keys/{key_id}",
        change_key,
        group="admin",
        operation=Operation(
            summary="Change a key's name, limits or budget (fields present replace; null removes)",
            tag="keys",
            request_schema=KEY_CHANGES_SCHEMA,
            responses={
                200: {"description": "The key as changed", "schema": USED_KEY_SCHEMA},
                404: "Unknown id",
            },
        ),
    )
    add_route(
        app,
        "DELETE",
        "/api/v1/keys/{key_id}",
        revoke_key,
        group="admin",
        operation=Operation(
            summary="Revoke a key at once",
            tag="keys",
            responses={204: "Revoked", 404: "Unknown id, or already revoked"},
        ),
    )
