"""End to end in Chromium: the console against the real gateway and a fake upstream.

The real app (``create_app`` with real settings and an admin key, so sign-in is real)
serves the console; a fake OpenAI upstream on loopback (``allow_private_upstreams``) is
reached through a provider the journey adds in the browser from the "openai" template.
The journey (console_flow.py): sign in; add the provider; test it and see its models;
chat with the answer streaming in; stop a stream (the upstream sees the disconnect);
create and revoke a key; edit and delete the provider. Then the security check: the
provider key appears nowhere in the DOM, form values, localStorage, sessionStorage,
cookies, or any response body the page received. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet

from gateway.app import create_app
from tests.fakes.console_upstream import LOG, create_upstream
from tests.web.conftest import PageProblems, screenshot
from tests.web.console_flow import run_console_journey
from tests.web.live import serve_in_thread

ADMIN_KEY = "admin-e2e-0123456789abcdef0123"
PROVIDER_KEY = "sk-fake-provider-key-9b2e4c6a8f"


def test_console_journey_against_the_real_gateway(
    open_page: Callable[..., tuple[Any, PageProblems]], make_settings: Callable[..., Any]
) -> None:
    upstream = create_upstream(PROVIDER_KEY, chunk_delay_s=0.04)
    settings = make_settings(
        admin_key=ADMIN_KEY,
        secret_key=Fernet.generate_key().decode(),
        security={"allow_private_upstreams": True},
        health={"interval_s": 1.0},
    )
    with serve_in_thread(upstream) as upstream_url, serve_in_thread(create_app(settings)) as url:
        page, problems = open_page()
        run_console_journey(
            page, problems, url, upstream_url, upstream[LOG], ADMIN_KEY, PROVIDER_KEY, "e2e"
        )


def test_console_at_375_px_sign_in_errors_and_session(
    open_page: Callable[..., tuple[Any, PageProblems]], make_settings: Callable[..., Any]
) -> None:
    settings = make_settings(admin_key=ADMIN_KEY, secret_key=Fernet.generate_key().decode())
    with serve_in_thread(create_app(settings)) as base_url:
        page, problems = open_page(width=375, height=740)
        page.goto(f"{base_url}/ui/")
        # A wrong key: the API's error is shown in place, with its request id.
        page.get_by_label("Admin key").fill("wrong-key")
        page.get_by_role("button", name="Sign in").click()
        alert = page.locator("#signin-form .error")
        alert.wait_for(state="visible")
        assert "Invalid API key" in alert.inner_text()
        assert re.search(r"HTTP 401 · invalid_api_key", alert.inner_text())
        assert re.search(r"request id: [0-9a-f-]{8,}", alert.inner_text())
        assert "wrong-key" not in alert.inner_text()

        # The right key, kept for this tab's session only when asked.
        page.get_by_label("Admin key").fill(ADMIN_KEY)
        page.get_by_label("Keep me signed in for this tab").check()
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Providers").wait_for()
        assert page.evaluate("Object.keys(localStorage).length") == 0
        assert page.context.cookies() == []
        page.reload()
        page.get_by_role("heading", name="Providers").wait_for()

        for view in ("providers", "chat", "keys"):
            page.get_by_role("link", name=view.capitalize()).click()
            page.locator(f"#{view}-view").wait_for()
            page.wait_for_load_state("networkidle")
            if view == "providers":
                page.get_by_role("button", name="Add provider").click()
                page.get_by_label("Template").select_option("ollama")
                # A template whose key is optional: the key field is not required.
                key = page.locator("form.editor").get_by_label("API key", exact=True)
                assert key.get_attribute("required") is None
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, view
            screenshot(page, f"console-{view}-375px")

        page.get_by_role("button", name="Sign out").click()
        page.get_by_label("Admin key").wait_for()
        assert page.evaluate("Object.keys(sessionStorage).length") == 0
        page.reload()
        assert page.get_by_label("Admin key").is_visible()
        assert page.locator("#app").is_hidden()
        assert [e for e in problems.errors if "status of 401" not in e] == []
        assert page.evaluate("window.__cspViolations") == []
