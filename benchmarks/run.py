"""`make bench`: the gateway against a fake upstream, next to a minimal pass-through proxy.

Starts the fake upstream, the reference pass-through and the gateway (one
worker, full middleware chain, providers from a providers.d folder) as
subprocesses; the gateway and the reference are pinned to core 0, the load and
the fake upstream to core 1. Measures non-streaming throughput (wrk, 32
connections), added latency at a fixed 200 req/s (open loop), streaming
(500 concurrent streams: chunks/s, time to first chunk; OpenAI and Anthropic
upstreams; Anthropic's Messages API as the ingress, translated to the OpenAI
upstream and passed through to the Anthropic one, in events/s as a ratio of the
chat stream's; the Responses API translated from the Anthropic upstream), the
gateway's memory, and what the usage ledger costs (CPU per request of two pairs of
gateways, ``usage.enabled`` true and false, each pair loaded at once on one core; alone:
``python -m benchmarks.run ledger``, about 50 s); the same gateway
with aiohttp's ClientSession below the upstream boundary
(benchmarks/aiohttp_gateway.py) gets the throughput, latency and streaming rows
too, for the client comparison. Prints a table and writes
benchmarks/results/latest.json. Bounded: the whole run takes about two minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "latest.json"
SERVER_CORE, LOAD_CORE = "0", "1"
WRK_SECONDS = 6
LATENCY_RATE, LATENCY_SECONDS = 200, 5
STREAMS, HELD_STREAMS, ROUNDS = 500, 2000, 5
LEDGER_ROUNDS, LEDGER_SECONDS = 5, 2
"""The ledger's cost: this many windows of wrk against each pair of the ledger's gateways."""
LEDGER_WARMUP_S = 6
"""wrk against each ledger pair first: three 2-second flushes, after which the file
backend's buffers have grown to their size (measured in the steady state)."""
LEDGER_RULE = 1.05

OPENAI_MODEL = "bench/bench-model"
ANTHROPIC_MODEL = "bench-anthropic/claude-bench"
CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"
MESSAGES_ROWS = {
    "gateway_messages": OPENAI_MODEL,  # Anthropic ingress, translated to an OpenAI upstream
    "gateway_messages_native": ANTHROPIC_MODEL,  # Anthropic ingress, passed through
}
GATEWAY_ARGV = ("-m", "gateway", "serve", "--host", "127.0.0.1", "--port")
AIOHTTP_GATEWAY_ARGV = (
    "-m",
    "benchmarks.aiohttp_gateway",
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
)
"""The same gateway with aiohttp's ClientSession below the upstream boundary (the comparison)."""
CLIENT_CPU_RULE = 0.85
"""The own client ships only while it costs at most this much of aiohttp's CPU per request."""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(core: str, *argv: str) -> list[str]:
    return ["taskset", "-c", core, *argv] if shutil.which("taskset") else list(argv)


class Processes:
    """Child processes, stopped by their own pid at the end."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []

    def start_printing_port(self, argv: list[str], **kwargs: Any) -> tuple[int, int]:
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=ROOT, **kwargs)
        self.children.append(child)
        assert child.stdout is not None
        line = child.stdout.readline().decode()
        match = re.match(r"PORT (\d+)", line)
        if not match:
            raise RuntimeError(f"{argv[-1]} did not start: {line!r}")
        return child.pid, int(match.group(1))

    def start(self, argv: list[str], **kwargs: Any) -> int:
        child = subprocess.Popen(argv, **kwargs)
        self.children.append(child)
        return child.pid

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads: ns from schedstat, else clock ticks."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9
    except (FileNotFoundError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def wrk(
    url: str, body: bytes, seconds: int = WRK_SECONDS, pid: int | None = None
) -> dict[str, float]:
    """Requests per second over 32 keep-alive connections, wrk pinned to the load core.

    With ``pid``, also the server's CPU time per request: unlike requests per
    second, it hardly moves when other work shares the machine.
    """
    return wrk_together([(url, pid)], body, seconds, connections=32)[0]


def wrk_together(
    targets: list[tuple[str, int | None]], body: bytes, seconds: int, connections: int
) -> list[dict[str, float]]:
    """One wrk per (url, server pid), all running at once over the same seconds."""
    pids = [pid for _url, pid in targets]
    used = [cpu_seconds(pid) if pid is not None else 0.0 for pid in pids]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % body.decode())
    try:
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script.name]
        children = [
            subprocess.Popen(pinned(LOAD_CORE, *argv, url), stdout=subprocess.PIPE, text=True)
            for url, _pid in targets
        ]
        outs = [child.communicate(timeout=seconds + 30)[0] for child in children]
    finally:
        os.unlink(script.name)
    return [
        wrk_summary(out, cpu_seconds(pid) - before if pid is not None else None)
        for out, pid, before in zip(outs, pids, used, strict=True)
    ]


def wrk_summary(out: str, cpu_s: float | None) -> dict[str, float]:
    """wrk's requests/s and errors; with the server's CPU seconds, its CPU per request."""
    done = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    socket_errors = sum(int(g) for g in errors.groups()) if errors else 0
    count = int(done.group(1)) if done else 0
    per_request = cpu_s * 1e6 / count if count and cpu_s is not None else 0.0
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "errors": (int(bad.group(1)) if bad else 0) + socket_errors,
        "cpu_us_per_request": round(per_request, 1),
    }


def write_providers(folder: Path, upstream: str) -> None:
    """Render benchmarks/providers.d/*.yaml with the fake upstream's address."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted((HERE / "providers.d").glob("*.yaml")):
        text = source.read_text().replace("${BENCH_UPSTREAM}", upstream)
        (folder / source.name).write_text(text)


async def wait_http(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


async def probe(url: str, body: bytes) -> str | None:
    """None when a chat request works; otherwise why not."""
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=load.HEADERS) as response,
        ):
            text = await response.text()
            return None if response.status == 200 else f"{response.status}: {text[:200]}"
    except aiohttp.ClientError as exc:
        return f"unreachable: {exc}"


def stream_summary(result: load.StreamResult) -> dict[str, float]:
    return result.summary()


async def held_streams_rss(url: str, body: bytes, pid: int) -> dict[str, float]:
    """Peak RSS while HELD_STREAMS streams are open at once."""
    hold, all_started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        load.streams(url, body, HELD_STREAMS, hold=hold, all_started=all_started)
    )
    peak = rss_mb(pid)
    deadline = time.monotonic() + 30
    while not all_started.is_set() and time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.1)
        peak = max(peak, rss_mb(pid))
    await asyncio.sleep(0.5)
    peak = max(peak, rss_mb(pid))
    hold.set()
    result = await task
    return {"rss_mb": round(peak, 1), "streams": HELD_STREAMS, "errors": result.errors}


async def measure(targets: dict[str, str], pids: dict[str, int]) -> dict[str, Any]:
    report: dict[str, Any] = {"throughput": {}, "latency": {}, "streaming": {}, "memory": {}}
    ledger_urls = {name: targets.pop(name) for name in LEDGER_GATEWAYS if name in targets}
    plain = load.chat_body("bench-model", stream=False)
    streamed = load.chat_body("bench-model", stream=True, include_usage=True)

    def body(name: str, template: bytes, model: str = OPENAI_MODEL) -> bytes:
        return (
            template.replace(b'"bench-model"', f'"{model}"'.encode())
            if name.startswith("gateway")
            else template
        )

    gateway_pid = pids.get("gateway")
    if gateway_pid is not None:
        report["memory"]["idle_rss_mb"] = round(rss_mb(gateway_pid), 1)
    for name, url in targets.items():
        report["throughput"][name] = wrk(url, body(name, plain), pid=pids[name])
        print(f"  throughput {name}: {report['throughput'][name]}", flush=True)
    for name, url in targets.items():
        result = await load.open_loop(url, body(name, plain), LATENCY_RATE, LATENCY_SECONDS)
        report["latency"][name] = result.summary()
        print(f"  latency {name}: {report['latency'][name]}", flush=True)
    for name, url in targets.items():
        result = await load.streams(url, body(name, streamed), STREAMS)
        report["streaming"][name] = stream_summary(result)
        print(f"  streaming {name}: {report['streaming'][name]}", flush=True)
    if gateway_pid is not None:
        url = targets["gateway"]
        anthropic = body("gateway", streamed, ANTHROPIC_MODEL)
        result = await load.streams(url, anthropic, STREAMS)
        report["streaming"]["gateway_anthropic"] = stream_summary(result)
        print(
            f"  streaming gateway (anthropic): {report['streaming']['gateway_anthropic']}",
            flush=True,
        )
        result = await load.streams(
            url.replace(CHAT, RESPONSES), load.responses_body(ANTHROPIC_MODEL), STREAMS,
            expect_done=None,
        )  # fmt: skip
        report["streaming"]["gateway_responses"] = stream_summary(result)
        print(
            f"  streaming gateway (responses api): {report['streaming']['gateway_responses']}",
            flush=True,
        )
        for row, model in MESSAGES_ROWS.items():
            report["streaming"][row] = await messages_streams(url, model, STREAMS)
            print(f"  streaming {row}: {report['streaming'][row]}", flush=True)
        held = body("gateway", streamed, OPENAI_MODEL + "-long")
        report["memory"]["held_streams"] = await held_streams_rss(url, held, gateway_pid)
        rounds = []
        for _ in range(ROUNDS):
            wrk(url, body("gateway", plain), seconds=2)
            await load.streams(url, body("gateway", streamed), STREAMS)
            await asyncio.sleep(0.3)
            rounds.append(round(rss_mb(gateway_pid), 1))
        report["memory"]["rss_after_rounds_mb"] = rounds
        print(f"  memory: {report['memory']}", flush=True)
    if len(ledger_urls) == len(LEDGER_GATEWAYS):
        report["ledger"] = ledger_cost(ledger_urls, pids, body("gateway", plain))
        print(f"  ledger: {report['ledger']}", flush=True)
    return report


LEDGER_GATEWAYS = {"ledger_on_1": True, "ledger_off_1": False, "ledger_off_2": False,
                   "ledger_on_2": True}  # fmt: skip
"""Four gateways started alike (one PYTHONHASHSEED), usage.enabled as given, that serve
only this part."""
LEDGER_PAIRS = (("ledger_on_1", "ledger_off_1"), ("ledger_on_2", "ledger_off_2"))
"""Each pair is loaded at once, on one core: both see the same moment of the host."""
LEDGER_CONTROL = ("ledger_off_1", "ledger_off_2")
"""Two "off" gateways measured the same way: the ratio the method reads for no difference."""


def ledger_cost(urls: dict[str, str], pids: dict[str, int], body: bytes) -> dict[str, Any]:
    """CPU per chat request with the ledger on over the same with it off.

    Measured one after another, CPU per request moved by 5-10 % from one second to
    the next on this VM (other tenants), more than the effect measured. So the two
    gateways of a pair run at the same time, pinned to one core, each under its own
    wrk: whatever the host does lands on both. A pair's ratio is the median over
    LEDGER_ROUNDS windows; the row is the mean of the two pairs' (two processes a
    side, started in both orders), and the control pair's ratio is its resolution.
    """
    for on, off in LEDGER_PAIRS:  # three 2-second flushes: the log's buffers have grown
        wrk_together([(urls[on], None), (urls[off], None)], body, LEDGER_WARMUP_S, 16)
    ratios: dict[str, float] = {}
    cpu: dict[str, list[float]] = {name: [] for name in LEDGER_GATEWAYS}
    errors = 0
    for first, second in (*LEDGER_PAIRS, LEDGER_CONTROL):
        window_ratios = []
        for _ in range(LEDGER_ROUNDS):
            one, two = wrk_together(
                [(urls[first], pids[first]), (urls[second], pids[second])],
                body, LEDGER_SECONDS, 16,
            )  # fmt: skip
            errors += int(one["errors"] + two["errors"])
            if not (one["cpu_us_per_request"] and two["cpu_us_per_request"]):
                raise RuntimeError(f"{first} or {second} served no request in a window")
            window_ratios.append(one["cpu_us_per_request"] / two["cpu_us_per_request"])
            if (first, second) != LEDGER_CONTROL:
                cpu[first].append(one["cpu_us_per_request"])
                cpu[second].append(two["cpu_us_per_request"])
        ratios[f"{first}/{second}"] = round(statistics.median(window_ratios), 4)
    pair_ratios = [ratios[f"{on}/{off}"] for on, off in LEDGER_PAIRS]
    medians = {name: statistics.median(values) for name, values in cpu.items()}
    on_us = statistics.mean(v for name, v in medians.items() if LEDGER_GATEWAYS[name])
    off_us = statistics.mean(v for name, v in medians.items() if not LEDGER_GATEWAYS[name])
    return {
        "ratio": round(statistics.mean(pair_ratios), 3),
        "off_vs_off": round(ratios["/".join(LEDGER_CONTROL)], 3),
        "on_cpu_us": round(on_us, 1),
        "off_cpu_us": round(off_us, 1),
        "pair_ratios": ratios,
        "medians_us": medians,
        "rounds": LEDGER_ROUNDS,
        "errors": errors,
    }


async def messages_streams(chat_url: str, model: str, count: int) -> dict[str, float]:
    """``count`` concurrent /v1/messages streams; events counted by their ``data:`` lines."""
    url = chat_url.replace(CHAT, MESSAGES)
    result = await load.streams(
        url, load.messages_body(model), count, expect_done=load.MESSAGES_DONE
    )
    return stream_summary(result)


def messages_rows(st: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """The Messages ingress rows: events/s as a ratio of the gateway's chat stream."""
    chat_cps = st["gateway"]["chunks_per_s"]
    rows: list[tuple[str, str, str, bool | None]] = []
    for name in MESSAGES_ROWS:
        eps, errors = st[name]["chunks_per_s"], st[name]["errors"]
        ratio = eps / chat_cps if chat_cps else 0.0
        label = (
            f"{eps:.0f} ({ratio:.2f}x chat, {errors} errors, ttfc p50 {st[name]['ttfc_p50_ms']} ms)"
        )
        rows.append((f"{name} events/s, 500 streams", label, "vs chat stream", None))
    return rows


def client_rows(t: dict[str, Any], st: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """The own client against aiohttp's, below the same gateway (the rule in the README)."""
    own, theirs = t["gateway"]["cpu_us_per_request"], t["gateway_aiohttp"]["cpu_us_per_request"]
    share = own / theirs if theirs else 0.0
    rps = f"{t['gateway']['rps']:.0f} vs {t['gateway_aiohttp']['rps']:.0f} req/s"
    cps = f"{st['gateway']['chunks_per_s']:.0f} vs {st['gateway_aiohttp']['chunks_per_s']:.0f}"
    return [
        (
            "own client CPU/request vs aiohttp's",
            f"{share:.2f}x ({rps})",
            f"<= {CLIENT_CPU_RULE}x",
            share <= CLIENT_CPU_RULE,
        ),
        ("stream chunks/s own vs aiohttp's", cps, "-", None),
    ]


def verdicts(report: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(metric, measured, target, passed) rows."""
    rows: list[tuple[str, str, str, bool | None]] = []
    t, lat, st, mem = (report[k] for k in ("throughput", "latency", "streaming", "memory"))
    ref = t["reference"]["rps"]
    rows.append(("reference req/s (wrk, 32 conn)", f"{ref:.0f}", "floor", None))
    rows.append(("direct upstream req/s", f"{t['direct']['rps']:.0f}", "ceiling", None))
    for name in ("reference", "gateway", "gateway_aiohttp"):
        if name in t:
            cpu = t[name]["cpu_us_per_request"]
            rows.append((f"{name} CPU per request (us)", f"{cpu}", "-", None))
    if "gateway" in t and "gateway_aiohttp" in t:
        rows.extend(client_rows(t, st))
    for name in ("reference", "gateway", "gateway_aiohttp"):
        if name in lat:
            p50 = lat[name]["p50_ms"] - lat["direct"]["p50_ms"]
            p99 = lat[name]["p99_ms"] - lat["direct"]["p99_ms"]
            rows.append(
                (f"{name} added p50/p99 vs direct (ms)", f"{p50:.3f} / {p99:.3f}", "-", None)
            )
    if "gateway" not in t:
        return rows
    ratio = t["gateway"]["rps"] / ref if ref else 0.0
    rows.append(
        (
            "gateway req/s",
            f"{t['gateway']['rps']:.0f} ({ratio:.2f}x ref)",
            ">= 0.85x",
            ratio >= 0.85,
        )
    )
    d50 = lat["gateway"]["p50_ms"] - lat["reference"]["p50_ms"]
    d99 = lat["gateway"]["p99_ms"] - lat["reference"]["p99_ms"]
    rows.append(("gateway p50 above reference (ms)", f"{d50:.3f}", "<= 0.5", d50 <= 0.5))
    rows.append(("gateway p99 above reference (ms)", f"{d99:.3f}", "<= 2", d99 <= 2.0))
    ref_cps = st["reference"]["chunks_per_s"]
    for name, floor in (("gateway", 0.85), ("gateway_anthropic", 0.7)):
        cps = st[name]["chunks_per_s"]
        r = cps / ref_cps if ref_cps else 0.0
        ok = r >= floor and st[name]["errors"] == 0
        errors, ttfc = st[name]["errors"], st[name]["ttfc_p50_ms"]
        label = f"{cps:.0f} ({r:.2f}x ref, {errors} errors, ttfc p50 {ttfc} ms)"
        rows.append((f"{name} chunks/s, 500 streams", label, f">= {floor}x, 0 errors", ok))
    responses, chat = st["gateway_responses"], st["gateway_anthropic"]
    r = responses["chunks_per_s"] / chat["chunks_per_s"] if chat["chunks_per_s"] else 0.0
    label = (
        f"{responses['chunks_per_s']:.0f} ({r:.2f}x its chat stream, {responses['errors']} errors,"
        f" ttfc p50 {responses['ttfc_p50_ms']} ms)"
    )
    rows.append(("Responses API events/s, 500 streams (anthropic)", label, "-", None))
    rows.extend(messages_rows(st))
    rows.append(
        ("gateway idle RSS (MB)", f"{mem['idle_rss_mb']}", "<= 80", mem["idle_rss_mb"] <= 80)
    )
    held = mem["held_streams"]
    measured = f"{held['rss_mb']} ({held['errors']} errors)"
    label = f"gateway RSS, {held['streams']} streams (MB)"
    rows.append((label, measured, "<= 300", held["rss_mb"] <= 300))
    if "ledger" in report:
        ledger = report["ledger"]
        measured = (
            f"{ledger['on_cpu_us']:.1f} vs {ledger['off_cpu_us']:.1f}: {ledger['ratio']:.3f}x"
            f" (2 pairs at once on one core; off vs off {ledger['off_vs_off']:.3f}x;"
            f" {ledger['errors']} errors)"
        )
        rows.append(
            (
                "ledger CPU per request, on vs off (us)",
                measured,
                f"<= {LEDGER_RULE}x, 0 errors",
                ledger["ratio"] <= LEDGER_RULE and ledger["errors"] == 0,
            )
        )
    first, last = mem["rss_after_rounds_mb"][0], mem["rss_after_rounds_mb"][-1]
    rows.append(
        (f"RSS after {ROUNDS} rounds vs first (MB)", f"{last} vs {first}", "within 10 %",
         last <= first * 1.1)
    )  # fmt: skip
    return rows


def print_table(rows: list[tuple[str, str, str, bool | None]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for metric, measured, target, passed in rows:
        mark = "" if passed is None else ("PASS" if passed else "FAIL")
        print(f"{metric:<{widths[0]}}  {measured:<{widths[1]}}  {target:<{widths[2]}}  {mark}")


@contextlib.contextmanager
def servers(workdir: Path) -> Iterator[tuple[dict[str, str], int | None, str | None]]:
    procs = Processes()
    try:
        python = sys.executable
        up_pid, up_port = procs.start_printing_port(
            pinned(LOAD_CORE, python, "-m", "benchmarks.fake_upstream")
        )
        upstream = f"http://127.0.0.1:{up_port}"
        ref_pid, ref_port = procs.start_printing_port(
            pinned(SERVER_CORE, python, "-m", "benchmarks.passthrough", upstream)
        )
        write_providers(workdir / "providers.d", upstream)
        gw_port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
            "PYTHONPATH": str(ROOT),
            "GATEWAY_ENV": "development",
            "GATEWAY_PROVIDERS__DIR": str(workdir / "providers.d"),
            "GATEWAY_STORAGE__PATH": str(workdir / "data"),
            "GATEWAY_UPSTREAM__POOL_SIZE": "4096",
            "GATEWAY_RATE_LIMIT__CHAT_RPM": "100000000",
            "GATEWAY_SERVER__MAX_CONNECTIONS_PER_CLIENT": "100000",  # all load is from 127.0.0.1
            "BENCH_KEY": "bench-key",
        }
        gw_pid = procs.start(
            pinned(SERVER_CORE, python, *GATEWAY_ARGV, str(gw_port)),
            env=env,
            cwd=workdir,
            stderr=subprocess.DEVNULL,
        )
        # Four more gateways, ledger on and off, that serve only the ledger's part.
        ledger_ports, ledger_pids = {}, {}
        for name, enabled in LEDGER_GATEWAYS.items():
            ledger_ports[name] = free_port()
            ledger_pids[name] = procs.start(
                pinned(SERVER_CORE, python, *GATEWAY_ARGV, str(ledger_ports[name])),
                env={
                    **env,
                    "GATEWAY_USAGE__ENABLED": "true" if enabled else "false",
                    "GATEWAY_STORAGE__PATH": str(workdir / f"data-{name}"),
                    "PYTHONHASHSEED": "12",
                },
                cwd=workdir,
                stderr=subprocess.DEVNULL,
            )
        aio_port = free_port()  # the same gateway with aiohttp's client below the boundary
        aio_dir = workdir / "aiohttp"
        aio_dir.mkdir()
        aio_pid = procs.start(
            pinned(SERVER_CORE, python, *AIOHTTP_GATEWAY_ARGV, str(aio_port)),
            env={**env, "GATEWAY_STORAGE__PATH": str(aio_dir / "data")},
            cwd=aio_dir,
            stderr=subprocess.DEVNULL,
        )
        targets = {
            "direct": upstream + CHAT,
            "reference": f"http://127.0.0.1:{ref_port}{CHAT}",
        }
        gateway = f"http://127.0.0.1:{gw_port}"
        ledger_urls = {name: f"http://127.0.0.1:{port}" for name, port in ledger_ports.items()}
        asyncio.run(wait_http(gateway + "/api/v1/health"))
        for url in ledger_urls.values():
            asyncio.run(wait_http(url + "/api/v1/health"))
        time.sleep(1.5)  # providers.d is read and watched
        problem = asyncio.run(probe(gateway + CHAT, load.chat_body(OPENAI_MODEL, stream=False)))
        if problem is None:
            targets["gateway"] = gateway + CHAT
            for name, url in ledger_urls.items():  # measured apart (see measure)
                targets[name] = url + CHAT
        pids = {"direct": up_pid, "reference": ref_pid}
        if problem is None:
            pids["gateway"] = gw_pid
            pids.update(ledger_pids)
            aio = f"http://127.0.0.1:{aio_port}"
            asyncio.run(wait_http(aio + "/api/v1/health"))
            if asyncio.run(probe(aio + CHAT, load.chat_body(OPENAI_MODEL, stream=False))) is None:
                targets["gateway_aiohttp"] = aio + CHAT
                pids["gateway_aiohttp"] = aio_pid
        yield targets, pids, problem
    finally:
        procs.stop()


def main() -> int:
    import resource

    import uvloop

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp,
        servers(Path(tmp)) as (
            targets,
            pids,
            problem,
        ),
    ):
        if problem is not None:
            print(f"gateway part skipped: a chat request through the gateway failed ({problem})")
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(0, {int(LOAD_CORE)})
        if sys.argv[1:] == ["ledger"]:
            if problem is not None:
                return 1
            body = load.chat_body(OPENAI_MODEL, stream=False)
            ledger_urls = {name: targets[name] for name in LEDGER_GATEWAYS}
            print(f"ledger: {ledger_cost(ledger_urls, pids, body)}")
            return 0
        report = uvloop.run(measure(targets, pids))
    report["gateway_skipped"] = problem
    report["seconds"] = round(time.monotonic() - started, 1)
    rows = verdicts(report)
    report["verdicts"] = [
        {"metric": m, "measured": v, "target": t, "pass": p} for m, v, t, p in rows
    ]
    print()
    print_table(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)} in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
