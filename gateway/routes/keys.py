"""/api/v1/keys: create (the key is shown once), list, show and revoke gateway API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.errors import InvalidRequest, NotFound
from gateway.fields import DisplayName, ModelName
from gateway.keys import KEYS
from gateway.keys.principal import Scope
from gateway.routes.body import read_json_object
from gateway.routes.table import Operation, add_route


def _chat_only() -> list[Scope]:
    return ["chat"]


class NewKey(BaseModel):
    """The body of POST /api/v1/keys."""

    model_config = ConfigDict(extra="forbid")

    name: DisplayName
    scopes: list[Scope] = Field(default_factory=_chat_only, min_length=1, max_length=3)
    models: list[ModelName] | None = Field(None, max_length=1000)
    """The models the key may use; empty or absent means every model."""
    rpm: int | None = Field(None, ge=1, le=10_000_000)
    tpm: int | None = Field(None, ge=1, le=1_000_000_000)
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value


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
    key, meta = await request.app[KEYS].create(
        name=spec.name,
        scopes=list(spec.scopes),
        models=spec.models,
        rpm=spec.rpm,
        tpm=spec.tpm,
        expires_at=spec.expires_at,
    )
    return web.json_response({**meta, "key": key}, status=201)


async def list_keys(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": await request.app[KEYS].list()})


async def show_key(request: web.Request) -> web.Response:
    found = await request.app[KEYS].get(request.match_info["key_id"])
    if found is None:
        raise NotFound("No key has this id.", param="key_id")
    return web.json_response(found)


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
                        "properties": {"data": {"type": "array", "items": KEY_SCHEMA}},
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
            summary="Show one key's metadata",
            tag="keys",
            responses={200: {"description": "The key", "schema": KEY_SCHEMA}, 404: "Unknown id"},
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
