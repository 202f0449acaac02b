"""The console's whole journey in Chromium against a stand-in of the APIs' written contracts.

The same journey runs against the real APIs in tests/web/e2e_pending/e2e_console.py once
they are merged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.app import create_app
from tests.fakes.console_upstream import LOG, create_upstream
from tests.web.conftest import PageProblems
from tests.web.console_flow import run_console_journey
from tests.web.contract_api import mount_contract_api
from tests.web.live import serve_in_thread

ADMIN_KEY = "admin-contract-0123456789abcdef"
PROVIDER_KEY = "sk-fake-provider-key-5f3c9a7d1e"


def test_console_journey_against_the_api_contracts(
    open_page: Callable[..., tuple[Any, PageProblems]], make_settings: Callable[..., Any]
) -> None:
    upstream = create_upstream(PROVIDER_KEY, chunk_delay_s=0.04)
    app = create_app(make_settings())
    mount_contract_api(app, ADMIN_KEY)
    with serve_in_thread(upstream) as upstream_url, serve_in_thread(app) as base_url:
        page, problems = open_page()
        run_console_journey(
            page, problems, base_url, upstream_url, upstream[LOG], ADMIN_KEY, PROVIDER_KEY,
            "contract",
        )  # fmt: skip
