"""Run a node script (tests/node/*.mjs) against a gateway URL and read its JSON report.

The script gets the base URL as its first argument (plus any more given) and
prints one JSON document on stdout; node finds the SDKs in the repository's
node_modules (package.json, installed by ``npm ci`` in ``make test``).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


async def run_node(script: str, base_url: str, *args: str, timeout_s: float = 60) -> Any:
    """The script's JSON output; AssertionError with its stderr when it fails."""
    node = shutil.which("node")
    assert node is not None, "node is not installed (make test installs it)"
    assert (ROOT / "node_modules").is_dir(), "node_modules is missing: run npm ci"
    process = await asyncio.create_subprocess_exec(
        node,
        str(HERE / script),
        base_url,
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, f"{script} failed:\n{err.decode(errors='replace')[-4000:]}"
    return orjson.loads(out)
