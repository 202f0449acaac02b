"""End to end in Chromium: the console against the real gateway APIs and a fake upstream.

PENDING: pytest does not collect this file (its name does not start with test_) because
the providers, chat/models, health and keys APIs are built on other branches. Once they
are merged, move it to tests/web/test_console_e2e.py; it must then pass as it is.

The journey is the one the contract test runs against a stand-in (console_flow.py):
sign in with the admin key; add a provider from the "openai" template pointing at a
fake upstream; test it and see its models; chat with the answer streaming in; stop a
stream; create and revoke a key; edit and delete the provider. Then the security check:
the provider key appears nowhere in the DOM, form values, localStorage, sessionStorage,
cookies, or any response body the page received. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet

from gateway.app import create_app
from tests.fakes.console_upstream import LOG, create_upstream
from tests.web.conftest import PageProblems
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
            page, problems, url, upstream_url, upstream[LOG], ADMIN_KEY, PROVIDER_KEY, "e2e",
            expect_provider_counts=True,
        )  # fmt: skip
