"""The OpenAPI document describes every registered route."""

from __future__ import annotations

from gateway.app import create_app
from gateway.settings import Settings


async def test_every_route_is_documented(client, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")

    app = create_app(settings)
    registered = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS", "*"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        registered.add((path, route.method.lower()))
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    missing = registered - documented
    assert not missing, f"routes missing from openapi.json: {sorted(missing)}"
    assert len(registered) >= 4
    for item in document["paths"].values():
        for op in item.values():
            assert op["responses"], op
            assert "500" in op["responses"]


async def test_docs_page_is_self_contained(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/docs")
    assert response.status == 200
    html = await response.text()
    assert "<script" in html and "http://" not in html and "https://" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    script = await client.get("/api/v1/docs/docs.js")
    assert script.status == 200
    assert "openapi.json" in await script.text()
