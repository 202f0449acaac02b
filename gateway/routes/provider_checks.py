"""One provider's upstream models, health and live test: /api/v1/providers/{id}/...

The models list merges the upstream's (cached by the catalog) with the
provider's static list and aliases; refresh fetches now and answers 502 when
the upstream fails, keeping the last good list. The live test never answers 500
for upstream trouble: a wrong key is ``ok: false`` with the upstream's reason.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.adapters import ADAPTERS
from gateway.endpoints import Operation, add_route
from gateway.errors import InvalidRequest, NotFound
from gateway.health.monitor import ProbeResult, probe_completion, probe_provider
from gateway.health.shared import SHARED_PROBES
from gateway.health.state import PROVIDER_HEALTH
from gateway.providers.catalog import MODEL_CATALOG, CatalogEntry, merge_models
from gateway.providers.live import LiveProvider
from gateway.providers.registry import PROVIDERS
from gateway.providers.shared_catalog import forget_shared_models
from gateway.providers.templates import TEMPLATES, Templates
from gateway.routes.common import body_schema, read_json_object
from gateway.state import SETTINGS
from gateway.upstream import UPSTREAM

ITEM_PATH = "/api/v1/providers/{provider_id}"

MODELS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data", "cached", "fetched_at", "stale"],
    "properties": {
        "object": {"const": "list"},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "object": {"const": "model"},
                    "created": {"type": "integer"},
                    "owned_by": {"type": "string"},
                },
            },
        },
        "cached": {"type": "boolean", "description": "No upstream call was made for this answer"},
        "fetched_at": {"type": "number", "description": "Unix time of the upstream list"},
        "stale": {"type": "boolean", "description": "The upstream failed; last good list"},
    },
}
HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "provider": {"type": "string"},
        "status": {"enum": ["healthy", "degraded", "unhealthy", "unknown"]},
        "latency_ms": {"type": ["number", "null"]},
        "checked_at": {"type": ["number", "null"]},
        "consecutive_failures": {"type": "integer", "description": "Probes failed in a row"},
        "last_error": {"type": ["string", "null"]},
        "circuit": {"enum": ["closed", "open", "half_open"]},
        "traffic": {
            "type": "object",
            "description": "Real calls: what opens the circuit",
            "properties": {
                "consecutive_failures": {"type": "integer"},
                "requests": {"type": "integer", "description": "In the last window_s seconds"},
                "failures": {"type": "integer", "description": "In the last window_s seconds"},
                "window_s": {"type": "number"},
            },
        },
    },
}
MODEL_TO_TEST: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "description": "Also send a one-token completion to it",
}


def stored_test_schema(templates: Templates) -> dict[str, Any]:
    """A stored provider's test: a model, and unsaved changes (any of a body's fields)."""
    changes = body_schema(templates, new=False)
    changes.pop("required", None)
    changes["properties"]["api_key"] = changes["properties"]["api_key"]["anyOf"][0]  # not null
    changes["description"] = (
        "Unsaved changes (fields of a provider body) to test instead of the stored provider; "
        "the stored key is used unless api_key is given"
    )
    return {"type": "object", "properties": {"model": MODEL_TO_TEST, "changes": changes}}


def draft_body_schema(templates: Templates) -> dict[str, Any]:
    """A provider not saved yet: its body, as POST would add it, and a model."""
    return {
        "type": "object",
        "required": ["provider"],
        "properties": {"provider": body_schema(templates, new=True), "model": MODEL_TO_TEST},
    }


TEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "latency_ms": {"type": ["number", "null"]},
        "status_code": {"type": ["integer", "null"]},
        "error": {"type": ["string", "null"]},
        "models_found": {"type": ["integer", "null"]},
    },
}


def _provider(request: web.Request) -> LiveProvider:
    provider_id = request.match_info["provider_id"]
    provider = request.app[PROVIDERS].get(provider_id)
    if provider is None:
        raise NotFound(f"No provider with id {provider_id!r}.", param="provider_id")
    return provider


def _model_list(provider: LiveProvider, entry: CatalogEntry) -> web.Response:
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": provider.id}
        for name in merge_models(provider, entry.models)
    ]
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "cached": entry.cached,
            "fetched_at": entry.fetched_at,
            "stale": entry.stale,
        }
    )


async def provider_models(request: web.Request) -> web.Response:
    provider = _provider(request)
    return _model_list(provider, await request.app[MODEL_CATALOG].models(provider.id))


async def refresh_models(request: web.Request) -> web.Response:
    provider = _provider(request)
    await forget_shared_models(request.app, provider.id)
    return _model_list(provider, await request.app[MODEL_CATALOG].refresh(provider.id))


async def provider_health(request: web.Request) -> web.Response:
    provider = _provider(request)
    return web.json_response(request.app[PROVIDER_HEALTH].report(provider.id))


def _test_model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise InvalidRequest("model must be a non-empty string.", param="model")
    return model


def _fields(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise InvalidRequest(f"{name} must be an object of provider fields.", param=name)
    return value


async def test_provider(request: web.Request) -> web.Response:
    provider = _provider(request)
    body = (await read_json_object(request))[0] if request.can_read_body else {}
    model = _test_model(body)
    changes = _fields(body, "changes")
    if changes is not None:
        # Unsaved changes: the stored provider's health is not this draft's to record.
        draft = await request.app[PROVIDERS].draft(changes, provider.id)
        return web.json_response((await _probe(request, draft, model)).as_json())
    result = await _probe(request, provider, model, record=True)
    return web.json_response(result.as_json())


async def test_draft(request: web.Request) -> web.Response:
    body = (await read_json_object(request))[0]
    model = _test_model(body)
    fields = _fields(body, "provider")
    if fields is None:
        raise InvalidRequest(
            "provider is required: the fields of the provider to test.", param="provider"
        )
    draft = await request.app[PROVIDERS].draft(fields)
    return web.json_response((await _probe(request, draft, model)).as_json())


async def _probe(
    request: web.Request, provider: LiveProvider, model: str | None, *, record: bool = False
) -> ProbeResult:
    """The live test: list models (or the health path), then optionally a completion."""
    app = request.app
    upstream = app[UPSTREAM]
    timeout_s = app[SETTINGS].health.timeout_s
    adapter = app[ADAPTERS].get(provider.adapter)
    result = await probe_provider(provider, adapter, upstream, timeout_s)
    if record:
        await _record(request, provider.id, result)
    if result.ok and model is not None and adapter is not None:
        found = result.models_found
        result = await probe_completion(provider, adapter, upstream, timeout_s, model)
        result = ProbeResult(result.ok, result.latency_ms, result.status_code, result.error, found)
    return result


async def _record(request: web.Request, provider_id: str, result: ProbeResult) -> None:
    """A live test is a probe like the monitor's: its verdict counts (and is shared)."""
    health = request.app[PROVIDER_HEALTH]
    if result.probe_unavailable:
        health.record_probe_unavailable(provider_id, result.error or "")
    else:
        latency_s = (result.latency_ms or 0.0) / 1000.0
        health.record_probe(provider_id, latency_s, None if result.ok else result.error)
    shared = request.app.get(SHARED_PROBES)
    if shared is not None:
        await shared.publish(provider_id)


def setup(app: web.Application) -> None:
    not_found = {404: "No such provider"}
    add_route(
        app,
        "POST",
        "/api/v1/providers/test",
        test_draft,
        group="admin",
        operation=Operation(
            summary="Check an unsaved provider now (a form's values, before saving)",
            description=(
                "Builds the provider from the body as POST /api/v1/providers would, stores "
                "nothing, and checks it like POST /api/v1/providers/{id}/test."
            ),
            tag="providers",
            request_schema=draft_body_schema(app[TEMPLATES]),
            responses={
                200: {"description": "The outcome", "schema": TEST_SCHEMA},
                400: "Invalid provider; error.param names the first invalid field",
            },
        ),
    )
    add_route(
        app,
        "GET",
        ITEM_PATH + "/models",
        provider_models,
        group="admin",
        operation=Operation(
            summary="The provider's models (upstream list, cached, merged with its own)",
            tag="providers",
            responses={
                200: {"description": "OpenAI list shape plus cache state", "schema": MODELS_SCHEMA},
                502: "The upstream failed and no earlier list is cached",
                **not_found,
            },
        ),
    )
    add_route(
        app,
        "POST",
        ITEM_PATH + "/models/refresh",
        refresh_models,
        group="admin",
        operation=Operation(
            summary="Fetch the provider's models from the upstream now",
            tag="providers",
            responses={
                200: {"description": "The fresh list", "schema": MODELS_SCHEMA},
                502: "The upstream failed; the cache keeps the last good list",
                **not_found,
            },
        ),
    )
    add_route(
        app,
        "GET",
        ITEM_PATH + "/health",
        provider_health,
        group="admin",
        operation=Operation(
            summary="The provider's health: probes, traffic and circuit breaker",
            tag="providers",
            responses={200: {"description": "Health", "schema": HEALTH_SCHEMA}, **not_found},
        ),
    )
    add_route(
        app,
        "POST",
        ITEM_PATH + "/test",
        test_provider,
        group="admin",
        operation=Operation(
            summary="Check the provider now with its stored credentials",
            description=(
                "Lists the upstream's models (or calls its health path); with "
                '{"model": ...} also sends a one-token completion; with {"changes": {...}} '
                "checks those unsaved changes instead (and records no health). Upstream "
                "trouble answers ok: false with the upstream's reason."
            ),
            tag="providers",
            request_schema=stored_test_schema(app[TEMPLATES]),
            responses={200: {"description": "The outcome", "schema": TEST_SCHEMA}, **not_found},
        ),
    )
