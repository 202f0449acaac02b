"""The console in a real headless Chromium: it loads cleanly under its CSP and works at 375 px."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.web.conftest import PageProblems, screenshot

OpenPage = Callable[..., tuple[Any, PageProblems]]
PAGE_SCRIPTS = Path(__file__).parent / "page_scripts"


def page_script(name: str) -> str:
    """A function expression kept in its own .js file, for page.evaluate."""
    return (PAGE_SCRIPTS / name).read_text()


def assert_clean(page: Any, problems: PageProblems) -> None:
    assert problems.errors == []
    assert page.evaluate("window.__cspViolations") == []


def test_console_loads_without_errors_or_csp_violations(
    open_page: OpenPage, gateway_url: str
) -> None:
    page, problems = open_page()
    response = page.goto(f"{gateway_url}/ui/")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    # The status strip is filled from /api/v1/health by the module scripts.
    status = page.locator("#status")
    assert re.match(r"Gateway ok · v\S+ · up ", status.inner_text())
    assert status.get_attribute("data-state") == "ok"
    assert page.title() == "LLM Gateway console"
    assert_clean(page, problems)


def test_root_redirects_to_the_console(open_page: OpenPage, gateway_url: str) -> None:
    page, problems = open_page()
    page.goto(f"{gateway_url}/")
    assert page.url == f"{gateway_url}/ui/"
    assert page.get_by_role("heading", name="Sign in").is_visible()
    assert_clean(page, problems)


def test_sign_in_form_is_labelled_and_keeps_the_key_out_of_storage(
    open_page: OpenPage, secured_gateway_url: str
) -> None:
    page, problems = open_page()
    page.goto(f"{secured_gateway_url}/ui/")
    key_field = page.get_by_label("Admin key")
    assert key_field.get_attribute("type") == "password"
    assert page.get_by_label("Keep me signed in for this tab").get_attribute("type") == "checkbox"
    assert page.get_by_role("button", name="Sign in").is_enabled()
    # Every visible form control has an accessible name.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
              .filter((el) => !el.labels || el.labels.length === 0)
              .map((el) => el.id || el.name)"""
    )
    assert unlabelled == []

    key_field.fill("admin-key-under-test")
    page.get_by_role("button", name="Sign in").click()
    # A wrong admin key: the gateway answers 401, and the error is shown in
    # place with the request id of the failed response.
    alert = page.locator("#signin-form .error")
    alert.wait_for(state="visible")
    assert re.search(r"request id: [0-9a-f-]{8,}", alert.inner_text())
    assert page.locator("#app").is_hidden()
    storage = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert "admin-key-under-test" not in storage
    assert "admin-key-under-test" not in page.context.cookies().__repr__()
    assert_clean_except_failed_fetch(page, problems)


def assert_clean_except_failed_fetch(page: Any, problems: PageProblems) -> None:
    """Chromium logs every non-2xx fetch as a console error; anything else is a bug."""
    others = [e for e in problems.errors if "the server responded with a status of" not in e]
    assert others == []
    assert page.evaluate("window.__cspViolations") == []


def test_usable_at_375_px(open_page: OpenPage, gateway_url: str) -> None:
    page, problems = open_page(width=375, height=740)
    page.goto(f"{gateway_url}/ui/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.get_by_label("Admin key").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    path = screenshot(page, "console-signin-375px")
    assert path.stat().st_size > 1000
    assert_clean(page, problems)


def test_client_module_imports_and_maps_errors_in_the_page(
    open_page: OpenPage, gateway_url: str
) -> None:
    page, problems = open_page()
    page.goto(f"{gateway_url}/ui/")
    result = page.evaluate(
        """async () => {
          const m = await import('/ui/api/client.js');
          const client = new m.GatewayClient({ baseUrl: '', apiKey: 'k' });
          const health = await client.health();
          let error = null;
          try { await client.getTemplate('nope'); } catch (e) { error = e; }
          return {
            exports: Object.keys(m).sort(),
            health: health.status,
            isGatewayError: error instanceof m.GatewayError,
            status: error.status, type: error.type, code: error.code,
            requestId: error.requestId, message: error.message,
          };
        }"""
    )
    assert result["exports"] == ["GatewayClient", "GatewayError", "sseData"]
    assert result["health"] == "ok"
    assert result["isGatewayError"] is True
    assert result["status"] == 404
    assert result["type"] == "invalid_request_error"
    assert result["code"] == "not_found"
    assert re.fullmatch(r"[0-9a-f-]{8,}", result["requestId"])
    assert_clean_except_failed_fetch(page, problems)


def test_client_parses_sse_split_anywhere_and_surfaces_stream_errors(
    open_page: OpenPage, gateway_url: str
) -> None:
    """streamChat against a scripted fetch: chunk boundaries, comments, [DONE], error events."""
    page, problems = open_page()
    page.goto(f"{gateway_url}/ui/")
    result = page.evaluate(page_script("stream_client.js"))
    for pieces in ("1", "7", "97", "1000"):
        assert result["out"][pieces] == {"text": "Hello", "usage": 5, "provider": "fake"}
    assert result["seen"]["auth"] == "Bearer sk-test"
    assert result["seen"]["body"]["stream"] is True
    assert result["seen"]["body"]["model"] == "p/m"
    assert result["got"] == "partial"
    assert result["err"] == {
        "name": "GatewayError",
        "type": "upstream_error",
        "message": "upstream reset",
        "rid": "rid-1",
    }
    assert result["aborted"] == "AbortError"
    assert result["ticks"] == 1
    assert_clean(page, problems)


def test_status_strip_shows_provider_counts(open_page: OpenPage, gateway_url: str) -> None:
    """With the providers summary of GET /api/v1/health (added by the health work)."""
    page, problems = open_page()
    summary = {
        "status": "degraded",
        "version": "9.9.9",
        "uptime_s": 7300,
        "providers": {"total": 3, "healthy": 2, "unhealthy": 1},
    }
    page.route(
        "**/api/v1/health",
        lambda route: route.fulfill(json=summary, headers={"X-Request-ID": "r"}),
    )
    page.goto(f"{gateway_url}/ui/")
    status = page.locator("#status")
    page.wait_for_function("() => document.querySelector('#status').dataset.state")
    assert status.inner_text() == (
        "Gateway degraded · v9.9.9 · up 2 h · providers: 3 total, 2 healthy, 1 unhealthy"
    )
    assert status.get_attribute("data-state") == "warn"
    assert_clean(page, problems)


def test_client_has_a_method_for_every_api_endpoint(open_page: OpenPage, gateway_url: str) -> None:
    """Every documented /api/v1 operation (docs aside) is one client method, and back."""
    page, problems = open_page()
    page.goto(f"{gateway_url}/ui/")
    spec = page.evaluate("async () => (await fetch('/api/v1/openapi.json')).json()")
    endpoints = set()
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/") or path.startswith(("/api/v1/docs", "/api/v1/openapi")):
            continue
        methods = {m.upper() for m in operations if m in {"get", "post", "put", "patch", "delete"}}
        if {"PUT", "PATCH"} <= methods:
            methods.discard("PUT")  # one update method (PATCH) serves both
        endpoints |= {f"{m} {re.sub(r'{[^}]+}', 'ID', path)}" for m in methods}
    result = page.evaluate(page_script("every_endpoint.js"))
    assert result["methods"] == result["called"]  # a new method must be exercised here too
    assert sorted(set(result["sent"])) == sorted(endpoints)
    assert len(result["sent"]) == len(result["called"])  # one request per method
    assert_clean(page, problems)
