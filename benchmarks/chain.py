"""What the middleware chain costs: the real app with a trivial route, next to a bare aiohttp app.

Both servers answer ``POST /api/v1/bench`` with the same small JSON body; the
gateway's route is registered in the chat group through ``add_route`` so every
middleware (request id, access log, errors, body limit, auth with the admin
key, rate limit) and every response hook runs. The servers are pinned to core 0
and wrk to core 1; runs alternate between the two so that noise from other work
on the machine hits both alike. Prints requests/s and server CPU µs per request
for each round, and the gateway/bare ratios.

    python -m benchmarks.chain [--rounds 3] [--seconds 4] [--log-format json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from benchmarks.run import (
    LOAD_CORE,
    ROOT,
    SERVER_CORE,
    Processes,
    cpu_ticks,
    free_port,
    pinned,
    wait_http,
)

PATH = "/api/v1/bench"
BODY = b'{"model":"bench-model","messages":[{"role":"user","content":"hi"}]}'
ANSWER = b'{"ok":true}'
ADMIN_KEY = "bench-admin-key-0123456789"
WRK_SCRIPT = f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {ADMIN_KEY}"
wrk.body = [[{BODY.decode()}]]
"""


def wrk(url: str, seconds: int, pid: int) -> dict[str, float]:
    """Requests/s over 32 keep-alive connections, and the server's CPU µs per request."""
    ticks = cpu_ticks(pid)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        argv = pinned(LOAD_CORE, "wrk", "-t1", "-c32", f"-d{seconds}s", "-s", script.name, url)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    used_s = (cpu_ticks(pid) - ticks) / os.sysconf("SC_CLK_TCK")
    done = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    count = int(done.group(1)) if done else 0
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "errors": int(bad.group(1)) if bad else 0,
        "cpu_us_per_request": round(used_s * 1e6 / count, 1) if count else 0.0,
    }


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=ANSWER, content_type="application/json")


def bare_app() -> web.Application:
    app = web.Application()
    app.router.add_post(PATH, answer)
    app.router.add_get("/ready", answer)
    return app


def gateway_app() -> web.Application:
    from gateway.app import create_app
    from gateway.endpoints import Operation, add_route
    from gateway.logs import configure_logging
    from gateway.settings import load_settings

    settings = load_settings()
    access_log = configure_logging(settings.logging)
    app = create_app(settings, access_log)
    operation = Operation(summary="Benchmark echo", tag="bench", responses={200: "ok"})
    add_route(app, "POST", PATH, answer, group="chat", operation=operation)
    app.router.add_get("/ready", answer)
    return app


async def serve(kind: str, port: int) -> None:
    app = bare_app() if kind == "bare" else gateway_app()
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    await asyncio.Event().wait()


def start(processes: Processes, kind: str, workdir: Path, log_format: str) -> tuple[int, str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        "PYTHONPATH": str(ROOT),
        "GATEWAY_ENV": "development",
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_STORAGE__PATH": str(workdir / "data"),
        "GATEWAY_PROVIDERS__DIR": str(workdir / "providers.d"),
        "GATEWAY_RATE_LIMIT__CHAT_RPM": "100000000",
        "GATEWAY_LOGGING__FORMAT": log_format,
    }
    log = (workdir / f"{kind}.log").open("ab")
    argv = pinned(SERVER_CORE, sys.executable, "-m", "benchmarks.chain", "--serve", kind)
    pid = processes.start([*argv, "--port", str(port)], env=env, cwd=ROOT, stderr=log)
    url = f"http://127.0.0.1:{port}"
    asyncio.run(wait_http(url + "/ready"))
    return pid, url + PATH


def measure(rounds: int, seconds: int, log_format: str) -> None:
    processes = Processes()
    results: dict[str, list[dict[str, float]]] = {"bare": [], "gateway": []}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        try:
            servers = {kind: start(processes, kind, workdir, log_format) for kind in results}
            for pid, url in servers.values():  # warm up
                wrk(url, seconds=1, pid=pid)
            for number in range(rounds):
                for kind, (pid, url) in servers.items():
                    result = wrk(url, seconds=seconds, pid=pid)
                    results[kind].append(result)
                    print(
                        f"round {number + 1} {kind:8} {result['rps']:8.0f} req/s "
                        f"{result['cpu_us_per_request']:6.1f} µs/req errors {result['errors']:.0f}",
                        flush=True,
                    )
            lines = (workdir / "gateway.log").read_text().splitlines()
            print(f"gateway log: {len(lines)} lines, last: {lines[-1] if lines else ''}")
        finally:
            processes.stop()
    rps = [g["rps"] / b["rps"] for g, b in zip(results["gateway"], results["bare"], strict=True)]
    cpu = {k: statistics.median(r["cpu_us_per_request"] for r in v) for k, v in results.items()}
    print(
        f"throughput ratio gateway/bare: median {statistics.median(rps):.2f} "
        f"(rounds {', '.join(f'{r:.2f}' for r in rps)}); "
        f"CPU µs/req median: gateway {cpu['gateway']:.1f}, bare {cpu['bare']:.1f}, "
        f"ratio {cpu['bare'] / cpu['gateway']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=("bare", "gateway"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--log-format", choices=("text", "json"), default="json")
    args = parser.parse_args()
    if args.serve:
        import uvloop

        uvloop.run(serve(args.serve, args.port))
        return
    measure(args.rounds, args.seconds, args.log_format)


if __name__ == "__main__":
    main()
