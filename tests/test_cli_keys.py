"""`gateway keys create|list|revoke` work on the store the server reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from gateway.settings import Settings
from tests.conftest import AppClient
from tests.middleware.probe import probe_app
from tests.processes import run_cli


async def test_cli_key_lifecycle(
    tmp_path: Path, aiohttp_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    env = {"GATEWAY_STORAGE__PATH": str(tmp_path / "data")}
    created = run_cli(
        "keys", "create", "--name", "cli", "--scope", "chat", "--model", "m1",
        "--budget-usd", "5", "--budget-period", "day", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    meta = json.loads(created.stdout)
    key = meta["key"]
    assert key.startswith("gw-") and meta["models"] == ["m1"]
    assert (meta["budget_usd"], meta["max_tokens"], meta["budget_period"]) == (5.0, None, "day")

    listed = run_cli("keys", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0
    assert [item["id"] for item in json.loads(listed.stdout)] == [meta["id"]]
    assert key not in listed.stdout

    client = await aiohttp_client(probe_app(make_settings(admin_key="admin-key-for-cli-test")))
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/test/chat", headers=headers)).status == 200

    revoked = run_cli("keys", "revoke", meta["id"], cwd=tmp_path, env=env)
    assert revoked.returncode == 0
    # The running server sees the other process's revocation at its next store poll.
    for _ in range(100):
        if (await client.get("/api/v1/test/chat", headers=headers)).status == 401:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("revocation by the CLI never reached the server")
    assert run_cli("keys", "revoke", meta["id"], cwd=tmp_path, env=env).returncode == 1


def test_cli_create_refuses_bad_input(tmp_path: Path) -> None:
    result = run_cli("keys", "create", "--name", "x", "--rpm", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "rpm" in result.stderr and "Traceback" not in result.stderr
