"""Deterministic cost of one non-streaming chat request, for before/after comparisons.

The gateway runs in this process (full app, full middleware chain, access log
on); the fake upstream and a raw keep-alive load client run as child
processes, so only the gateway's own work is measured here. Modes:

    python -m benchmarks.profile_chat cpu 3000          # CPU µs/request (noisy)
    python -m benchmarks.profile_chat ledger 3000 [rounds]  # the same, usage ledger on vs off
    python -m benchmarks.profile_chat profile 3000 [out.pstats]  # cProfile, top functions
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m benchmarks.profile_chat quiet 300     # instructions (Ir), see below

``BENCH_LEDGER=off`` turns the usage ledger off in the other modes (to measure the rest);
``BENCH_LOG_ENTRIES=0`` keeps it on without its request log.
``BENCH_FLUSH_S=300`` flushes the ledger file only at the end: under callgrind, which
slows the gateway about 50 times, a flush every 2 s falls on every ~25 requests instead of
on thousands, so this separates the ledger's per-request cost from its flush's.
``BENCH_STREAM=on`` sends streaming calls instead (the fake upstream's 50 chunks each, over
``STREAM_CONNECTIONS`` sockets, as its chunks come 20 ms apart), to measure the relay.
``BENCH_CLIENT=aiohttp`` puts aiohttp's ClientSession (benchmarks/aiohttp_client.py)
below the upstream boundary instead of the gateway's own client.

For instructions per request, run ``quiet`` under callgrind with two request
counts and divide the difference in total Ir by the difference in counts: that
cancels start-up and shutdown.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from benchmarks.run import ROOT, free_port, write_providers

BODY = b'{"model":"bench/bench-model","messages":[{"role":"user","content":"hello"}]}'
STREAM_BODY = BODY[:-1] + b',"stream":true}'
CONNECTIONS = 8
STREAM_CONNECTIONS = 64


async def client(port: int, requests: int, connections: int, body: bytes = BODY) -> None:
    """Send ``requests`` chat calls over ``connections`` keep-alive sockets; check each is 200."""
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    message = head + body
    left = [requests]

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while left[0] > 0:
            left[0] -= 1
            writer.write(message)
            headers = await reader.readuntil(b"\r\n\r\n")
            if not headers.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"bad answer: {headers[:200]!r}")
            if b"chunked" in headers.lower():
                await read_chunked(reader)
                continue
            length = int(headers.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))


async def read_chunked(reader: asyncio.StreamReader) -> None:
    """Read a chunked body to its end; the stream must have ended with ``[DONE]``."""
    last = b""
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
        data = await reader.readexactly(size + 2)
        if size == 0:
            break
        last = data
    if b"[DONE]" not in last:
        raise SystemExit(f"stream did not end with [DONE]: {last[-200:]!r}")


def start_upstream() -> tuple[subprocess.Popen[bytes], int]:
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fake_upstream"], stdout=subprocess.PIPE, cwd=ROOT
    )
    assert child.stdout is not None
    return child, int(child.stdout.readline().decode().split()[-1])


async def serve_and_load(
    workdir: Path,
    upstream_port: int,
    mode: str,
    requests: int,
    dump: str | None,
    ledger: bool = True,
) -> float:
    """Serve ``requests`` chat calls; the CPU seconds they took."""
    from gateway.app import create_app
    from gateway.logs import configure_logging
    from gateway.settings import Settings

    write_providers(workdir / "providers.d", f"http://127.0.0.1:{upstream_port}")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="development",
        providers={"dir": str(workdir / "providers.d")},  # type: ignore[arg-type]
        storage={"path": str(workdir / "data")},  # type: ignore[arg-type]
        upstream={"pool_size": 4096},  # type: ignore[arg-type]
        rate_limit={"chat_rpm": 100_000_000},  # type: ignore[arg-type]
        usage={  # type: ignore[arg-type]
            "enabled": ledger,
            "flush_interval_s": float(os.environ.get("BENCH_FLUSH_S", "2")),
            "log_entries": int(os.environ.get("BENCH_LOG_ENTRIES", "10000")),
        },
    )
    access_log = configure_logging(settings.logging)
    app = create_app(settings, access_log)
    if os.environ.get("BENCH_CLIENT") == "aiohttp":
        from benchmarks.aiohttp_client import AiohttpClient
        from gateway.upstream import UPSTREAM

        app[UPSTREAM].client_factory = AiohttpClient
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    load = [sys.executable, "-m", "benchmarks.profile_chat", "client", str(port)]
    warm = await asyncio.create_subprocess_exec(*load, "50", cwd=ROOT)
    await warm.wait()
    profiler = cProfile.Profile() if mode == "profile" else None
    started = os.times()
    if profiler is not None:
        profiler.enable()
    driver = await asyncio.create_subprocess_exec(*load, str(requests), cwd=ROOT)
    code = await driver.wait()
    if profiler is not None:
        profiler.disable()
    ended = os.times()
    await runner.cleanup()
    if code != 0:
        raise SystemExit("the load client failed")
    cpu = ended.user - started.user + ended.system - started.system
    if mode == "cpu":
        user = (ended.user - started.user) / requests * 1e6
        system = (ended.system - started.system) / requests * 1e6
        print(
            f"{cpu / requests * 1e6:.1f} µs CPU per request ({requests} requests):"
            f" user {user:.0f}, system {system:.0f}"
        )
    if profiler is not None:
        stats = pstats.Stats(profiler)
        if dump:
            stats.dump_stats(dump)
        stats.sort_stats("tottime").print_stats(45)
    return cpu


async def ledger_rounds(workdir: Path, upstream_port: int, requests: int, rounds: int) -> None:
    """CPU µs per request with the usage ledger on and off, alternating; medians and ratio."""
    import statistics

    runs: dict[bool, list[float]] = {True: [], False: []}
    for n in range(rounds):
        for on in (True, False):
            folder = workdir / f"{n}-{on}"
            folder.mkdir()
            cpu = await serve_and_load(folder, upstream_port, "ledger", requests, None, on)
            runs[on].append(cpu / requests * 1e6)
    on, off = statistics.median(runs[True]), statistics.median(runs[False])
    print(f"ledger on {on:.1f} µs, off {off:.1f} µs per request: {on / off:.3f}x ({rounds} rounds)")


def main() -> None:
    mode, *rest = sys.argv[1:]
    if mode == "client":
        import uvloop

        if os.environ.get("BENCH_STREAM") == "on":
            uvloop.run(client(int(rest[0]), int(rest[1]), STREAM_CONNECTIONS, STREAM_BODY))
        else:
            uvloop.run(client(int(rest[0]), int(rest[1]), CONNECTIONS))
        return
    import uvloop

    requests = int(rest[0]) if rest else 2000
    dump = os.path.abspath(rest[1]) if len(rest) > 1 and mode == "profile" else None
    upstream, upstream_port = start_upstream()
    os.environ["BENCH_KEY"] = "bench-key"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            if mode == "ledger":
                rounds = int(rest[1]) if len(rest) > 1 else 5
                uvloop.run(ledger_rounds(Path(tmp), upstream_port, requests, rounds))
            else:
                ledger = os.environ.get("BENCH_LEDGER", "on") != "off"
                uvloop.run(serve_and_load(Path(tmp), upstream_port, mode, requests, dump, ledger))
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
