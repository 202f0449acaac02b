"""What the route modules share: reading JSON bodies (400, 415), OpenAPI pieces, header names."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from aiohttp import web

from gateway.endpoints import ErrorShape, Handler, Operation, add_route
from gateway.errors import InvalidRequest, UnsupportedMediaType
from gateway.providers.records import ProviderBody
from gateway.providers.templates import Templates
from gateway.security.json_body import read_json_body
from gateway.state import SETTINGS


def optional_parameter(
    place: Literal["header", "query"], name: str, description: str, **schema: Any
) -> dict[str, Any]:
    """An optional request header or query parameter, a string unless ``schema`` says more."""
    return {
        "name": name,
        "in": place,
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


def text_answer(description: str, content_type: str) -> dict[str, Any]:
    """A 200 whose body is text: an HTML page, a script, the metrics exposition."""
    return {"description": description, "content_type": content_type, "schema": {"type": "string"}}


PROVIDER_HEADER = optional_parameter(
    "header", "X-Gateway-Provider", "Force this provider id instead of choosing by model."
)

ERRORS: dict[int, str] = {
    400: "Invalid request (error.param names the field)",
    401: "Missing or wrong API key (or the provider refused its key)",
    403: "The API key may not use this model",
    404: "No provider serves this model",
    413: "Request body too large",
    415: "The body is not JSON",
    429: "Rate limited (by the gateway or the provider)",
    502: "The provider failed",
    504: "The provider timed out",
}


def add_model_route(
    app: web.Application,
    path: str,
    handler: Handler,
    operation: Operation,
    *,
    errors: ErrorShape = "openai",
    error_docs: Mapping[int, str | Mapping[str, Any]] = ERRORS,
) -> None:
    """A POST that calls a model: the chat group, also under /v1, the provider header first
    among ``operation``'s parameters and ``error_docs`` after its 200."""
    operation = replace(
        operation,
        parameters=(PROVIDER_HEADER, *operation.parameters),
        responses={**operation.responses, **error_docs},
    )
    add_route(
        app, "POST", path, handler, group="chat", also_v1=True, errors=errors, operation=operation
    )


async def read_json_object(request: web.Request) -> tuple[dict[str, Any], bytes]:
    """The body as a JSON object within the security bounds, and its raw bytes.

    415 for a Content-Type that is not JSON; 400 (``invalid_json``) for a body that
    is not a JSON object. The raw bytes let pass-through adapters forward it as is.
    """
    mime = request.content_type
    if mime != "application/json" and not mime.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type must be application/json, not {mime!r}.")
    raw = await request.read()
    data = await read_json_body(raw, request.app[SETTINGS])
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return data, raw


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` inlined, to embed in OpenAPI as is."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {key: walk(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]


BODY_SCHEMA = inline_refs(ProviderBody.model_json_schema())


def body_schema(templates: Templates, *, new: bool) -> dict[str, Any]:
    """BODY_SCHEMA as the loaded templates complete it: ``template`` is one of theirs, and
    those without a default base_url or that need a key require it. A change names no id
    (the path does; a body may repeat it, nothing else)."""
    schema = copy.deepcopy(BODY_SCHEMA)
    schema["properties"]["template"]["enum"] = sorted(templates)
    if not new:
        del schema["properties"]["id"]
    needs = {
        "base_url": sorted(t.id for t in templates.values() if t.base_url is None),
        "api_key": sorted(t.id for t in templates.values() if t.key_required),
    }
    schema["allOf"] = [
        {
            "if": {"required": ["template"], "properties": {"template": {"enum": ids}}},
            "then": {"required": [field], "properties": {field: {"type": "string"}}},
        }
        for field, ids in needs.items()
        if ids
    ]
    return schema
