"""GET /api/v1/templates and /api/v1/templates/{id}: the kinds of upstream one can add."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.endpoints import Operation, add_route
from gateway.errors import NotFound
from gateway.providers.templates import TEMPLATES, Template
from gateway.routes.common import inline_refs

_FIELDS = inline_refs(Template.model_json_schema())
TEMPLATE_SCHEMA: dict[str, Any] = {
    **_FIELDS,
    "properties": {"object": {"const": "template"}, **_FIELDS["properties"]},
}
LIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": TEMPLATE_SCHEMA},
    },
}


def _view(template: Template) -> dict[str, Any]:
    return {"object": "template", **template.model_dump(mode="json")}


async def list_templates(request: web.Request) -> web.Response:
    templates = request.app[TEMPLATES]
    return web.json_response({"object": "list", "data": [_view(t) for t in templates.values()]})


async def get_template(request: web.Request) -> web.Response:
    template_id = request.match_info["template_id"]
    template = request.app[TEMPLATES].get(template_id)
    if template is None:
        raise NotFound(f"No template with id {template_id!r}.", param="template_id")
    return web.json_response(_view(template))


def setup(app: web.Application) -> None:
    add_route(
        app,
        "GET",
        "/api/v1/templates",
        list_templates,
        group="admin",
        operation=Operation(
            summary="List provider templates",
            tag="templates",
            responses={200: {"description": "Every loaded template", "schema": LIST_SCHEMA}},
        ),
    )
    add_route(
        app,
        "GET",
        "/api/v1/templates/{template_id}",
        get_template,
        group="admin",
        operation=Operation(
            summary="Get one provider template",
            tag="templates",
            responses={
                200: {"description": "The template", "schema": TEMPLATE_SCHEMA},
                404: "No such template",
            },
        ),
    )
