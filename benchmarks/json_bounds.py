"""The cost of refusing the worst JSON body that fits the chat limit (issue 12, item 2).

The worst body is ``{"model": ..., "messages": [{}, {}, ...]}`` filling the chat
body limit: millions of containers. Reports, in process, how long
``parse_json_body`` takes to refuse it next to ``orjson.loads`` on the same bytes
(target: at most 1.5x); then, against a running gateway, the slowest
``/api/v1/health`` answer while that body is sent and refused (target: 100 ms).

    python -m benchmarks.json_bounds [--mb 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import orjson

from benchmarks.run import GATEWAY_ARGV, ROOT, free_port, wait_http
from gateway.errors import InvalidRequest
from gateway.security.json_body import parse_json_body
from gateway.settings import MiB, Settings

HEALTH_EVERY_S = 0.01


def worst_body(size: int) -> bytes:
    head, tail = b'{"model":"m","messages":[', b"{}]}"
    return head + b"{}," * ((size - len(head) - len(tail)) // 3) + tail


def best_of(runs: int, work: object) -> float:
    assert callable(work)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def refuse(body: bytes, settings: Settings) -> None:
    try:
        parse_json_body(body, settings)
    except InvalidRequest:
        return
    raise AssertionError("the worst body was accepted")


def post(url: str, body: bytes) -> int:
    """A blocking POST (run in a thread, so the client's own copying never delays health)."""
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def health_during_upload(base: str, body: bytes) -> tuple[int, float, float]:
    """(status of the big request, slowest health answer in ms, health checks made)."""
    slowest = 0.0
    checks = 0
    async with aiohttp.ClientSession() as session:
        upload = asyncio.create_task(asyncio.to_thread(post, base + "/v1/chat/completions", body))
        while not upload.done():
            started = time.perf_counter()
            async with session.get(base + "/api/v1/health") as answer:
                await answer.read()
            slowest = max(slowest, time.perf_counter() - started)
            checks += 1
            await asyncio.sleep(HEALTH_EVERY_S)
        status = await upload
    return status, slowest * 1000, checks


def live(body: bytes) -> tuple[int, float, float]:
    with tempfile.TemporaryDirectory(prefix="gateway-json-bench-") as tmp:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
            "PYTHONPATH": str(ROOT),
            "GATEWAY_ENV": "development",
            "GATEWAY_STORAGE__PATH": str(Path(tmp) / "data"),
            "GATEWAY_PROVIDERS__DIR": str(Path(tmp) / "providers.d"),
        }
        child = subprocess.Popen(
            [sys.executable, *GATEWAY_ARGV, str(port)],
            env=env,
            cwd=tmp,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(wait_http(base + "/api/v1/health"))
            return asyncio.run(health_during_upload(base, body))
        finally:
            child.terminate()
            child.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="body size (the chat limit)")
    args = parser.parse_args()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    body = worst_body(int(args.mb * MiB))
    loads_s = best_of(3, lambda: orjson.loads(body))
    refuse_s = best_of(3, lambda: refuse(body, settings))
    status, health_ms, checks = live(body)
    ratio = refuse_s / loads_s
    print(f"worst body: {len(body) / MiB:.1f} MiB, {body.count(b'{') - 1:,} objects")
    verdict = "PASS" if ratio <= 1.5 else "FAIL"
    print(f"orjson.loads: {loads_s * 1000:.0f} ms; refused in {refuse_s * 1000:.0f} ms "
          f"({ratio:.2f}x; target <= 1.5x) {verdict}")  # fmt: skip
    verdict = "PASS" if health_ms <= 100 else "FAIL"
    print(f"gateway answered {status}; slowest of {checks:.0f} health checks meanwhile: "
          f"{health_ms:.0f} ms (target <= 100 ms) {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
