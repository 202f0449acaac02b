"""/api/v1/keys: create (the key is shown once), list, show and revoke gateway API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from gateway.endpoints import Operation, add_route
from gateway.errors import InvalidRequest, NotFound
from gateway.fields import WHOLE, DisplayName, ModelName
from gateway.keys import KEYS
from gateway.keys.principal import BudgetPeriod, Scope
from gateway.ledger.service import LEDGER, SPEND_SCHEMA
from gateway.routes.common import read_json_object

Number = Annotated[float, Strict()]
"""A number (an integer will do), never a boolean."""


def _chat_only() -> list[Scope]:
    return ["chat"]


class NewKey(BaseModel):
    """The body of POST /api/v1/keys."""

    model_config = ConfigDict(extra="forbid")

    name: DisplayName
    scopes: list[Scope] = Field(default_factory=_chat_only, min_length=1, max_length=3)
    models: list[ModelName] | None = Field(None, max_length=1000)
    """The models the key may use; empty or absent means every model."""
    rpm: Annotated[int, Strict(), Field(ge=1, le=10_000_000), WHOLE] | None = None
    tpm: Annotated[int, Strict(), Field(ge=1, le=1_000_000_000), WHOLE] | None = None
    expires_at: datetime | None = Field(
        None,
        description="When the key stops working; a time already past makes a key that is "
        "expired from the start (listed, unusable), as a key that expires later would be.",
    )
    budget_usd: Number | None = Field(None, ge=0, le=1_000_000_000)
    """Spend allowed per budget period, in USD at the configured prices."""
    max_tokens: Annotated[int, Strict(), Field(ge=1, le=10**15), WHOLE] | None = None
    """Tokens (prompt + completion) allowed per budget period."""
    budget_period: BudgetPeriod = "month"

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """A time without an offset is UTC."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class KeyChanges(BaseModel):
    """The body of PATCH /api/v1/keys/{key_id}: fields present replace, null removes."""

    model_config = ConfigDict(extra="forbid")

    name: DisplayName | None = None
    rpm: Annotated[int, Strict(), Field(ge=1, le=10_000_000), WHOLE] | None = None
    tpm: Annotated[int, Strict(), Field(ge=1, le=1_000_000_000), WHOLE] | None = None
    budget_usd: Number | None = Field(None, ge=0, le=1_000_000_000)
    max_tokens: Annotated[int, Strict(), Field(ge=1, le=10**15), WHOLE] | None = None
    budget_period: BudgetPeriod | None = None


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
    key, meta = await request.app[KEYS].create(
        name=spec.name,
        scopes=list(spec.scopes),
        models=spec.models,
        rpm=spec.rpm,
        tpm=spec.tpm,
        expires_at=spec.expires_at,
        budget_usd=spec.budget_usd,
        max_tokens=spec.max_tokens,
        budget_period=spec.budget_period,
    )
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
