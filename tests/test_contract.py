"""The server against its own OpenAPI description: schemathesis over every operation.

A live gateway (a real process, auth on, limits off) and schemathesis's CLI,
bounded in examples per operation and in time, with a fixed seed so a failure
reproduces. Whatever routes the description lists are tested: no list here.
Checks: no server error, every answer's status, content type and body as
described, and every schema-valid request accepted (positive_data_acceptance).
tests/contract.toml holds the one per-operation setting, and says why.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.processes import gateway_process

ADMIN_KEY = "contract-test-admin-key-0123456789abcdef"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
)
CONFIG = Path(__file__).with_name("contract.toml")
EXAMPLES_PER_OPERATION = 25
MAX_SECONDS = 30


def test_the_server_keeps_to_its_openapi_description(tmp_path: Path) -> None:
    env = {
        "GATEWAY_ENV": "test",
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_RATE_LIMIT__ENABLED": "false",
        "GATEWAY_HEALTH__ENABLED": "false",
    }
    with gateway_process("serve", "--port", "0", cwd=tmp_path, env=env) as gateway:
        base = f"http://127.0.0.1:{gateway.port()}"
        st = Path(sys.executable).with_name("st")
        options = [
            "--header", f"Authorization: Bearer {ADMIN_KEY}",
            "--checks", ",".join(CHECKS),
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(EXAMPLES_PER_OPERATION),
            "--max-time", str(MAX_SECONDS),
            "--seed", "12",
            "--workers", "1",  # hypothesis parses lambda sources: not thread-safe on 3.11
            "--no-shrink",
            "--warnings", "off",
        ]  # fmt: skip
        result = subprocess.run(
            [str(st), "--config-file", str(CONFIG), "run", f"{base}/api/v1/openapi.json", *options],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=MAX_SECONDS + 60,
        )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
    assert selected is not None and selected.group(1) == selected.group(2)  # every operation


async def test_booleans_are_not_integers(client: TestClient[web.Request, web.Application]) -> None:
    """The description says integer (and number); JSON's true is neither."""
    for field in ("rpm", "tpm", "max_tokens", "budget_usd"):
        answer = await client.post("/api/v1/keys", json={"name": "k", field: True})
        assert answer.status == 400, field
        assert (await answer.json())["error"]["param"] == field
    assert (await client.post("/api/v1/keys", json={"name": "k", "budget_usd": 5})).status == 201
