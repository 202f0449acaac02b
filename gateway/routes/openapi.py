"""GET /api/v1/openapi.json, built from the route table, and GET /api/v1/docs."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from gateway import __version__
from gateway.endpoints import ROUTES, Operation, add_route
from gateway.routes.common import text_answer

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

COMMON_ERRORS = {
    400: "Invalid request",
    401: "Missing or invalid API key",
    403: "Key lacks the scope or model",
    413: "Body too large",
    429: "Rate limit exceeded",
    500: "Internal error",
}


def _response(status: int, spec: str | Any) -> dict[str, Any]:
    if isinstance(spec, str):
        spec = {"description": spec}
    out: dict[str, Any] = {"description": spec["description"]}
    if status >= 400:
        out["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    elif "schema" in spec:
        content_type = spec.get("content_type", "application/json")
        out["content"] = {content_type: {"schema": spec["schema"]}}
    return out


def _operation(op: Operation, path: str) -> dict[str, Any]:
    params: list[Mapping[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_params(path)
    ]
    params.extend(op.parameters)
    out: dict[str, Any] = {"summary": op.summary, "tags": [op.tag]}
    if op.description:
        out["description"] = op.description
    if params:
        out["parameters"] = params
    if op.request_schema is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": op.request_schema}},
        }
    responses = {status: spec for status, spec in op.responses.items()}
    for status, description in COMMON_ERRORS.items():
        responses.setdefault(status, description)
    if op.request_schema is not None:
        responses.setdefault(415, "The body is not JSON (Content-Type)")
    out["responses"] = {str(s): _response(s, spec) for s, spec in sorted(responses.items())}
    return out


def _path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


def _plain_path(path: str) -> str:
    """An aiohttp path as OpenAPI writes it: ``{name:regex}`` -> ``{name}``."""
    return "/".join(
        "{" + part[1:-1].split(":")[0] + "}" if part.startswith("{") else part
        for part in path.split("/")
    )


def build_document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for info in app[ROUTES].values():
        item = paths.setdefault(_plain_path(info.path), {})
        for method, op in info.operations.items():
            item[method] = _operation(op, info.path)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LLM Gateway",
            "version": __version__,
            "description": "OpenAI-compatible gateway to many LLM providers.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }


OPENAPI_BODY = web.AppKey("openapi_body", bytes)


async def openapi_json(request: web.Request) -> web.Response:
    body = request.app.get(OPENAPI_BODY)
    if body is None:
        body = orjson.dumps(build_document(request.app))
    return web.Response(body=body, content_type="application/json")


DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def _docs_file(name: str) -> bytes:
    return resources.files("gateway.web.docs").joinpath(name).read_bytes()


async def docs_page(request: web.Request) -> web.Response:
    return web.Response(
        body=_docs_file("index.html"),
        content_type="text/html",
        headers={"Content-Security-Policy": DOCS_CSP},
    )


async def docs_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    types = {"docs.js": "text/javascript", "docs.css": "text/css"}
    if name not in types:
        raise web.HTTPNotFound()
    return web.Response(body=_docs_file(name), content_type=types[name])


async def _freeze_document(app: web.Application) -> None:
    app[OPENAPI_BODY] = orjson.dumps(build_document(app))


def setup(app: web.Application) -> None:
    add_route(
        app,
        "GET",
        "/api/v1/openapi.json",
        openapi_json,
        group="public",
        operation=Operation(
            summary="This API's OpenAPI 3.1 document",
            tag="meta",
            responses={200: {"description": "The document", "schema": {"type": "object"}}},
        ),
    )
    add_route(
        app,
        "GET",
        "/api/v1/docs",
        docs_page,
        group="public",
        operation=Operation(
            summary="Human-readable API documentation",
            tag="meta",
            responses={200: text_answer("HTML page", "text/html")},
        ),
    )
    add_route(
        app,
        "GET",
        "/api/v1/docs/{name}",
        docs_asset,
        group="public",
        operation=Operation(
            summary="Static assets of the documentation page",
            tag="meta",
            responses={
                200: text_answer("Script or stylesheet", "text/plain"),
                404: "No such asset",
            },
        ),
    )
    app.on_startup.append(_freeze_document)
