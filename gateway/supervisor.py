"""--workers N: N serving processes share one port (SO_REUSEPORT) under one supervisor.

The supervisor forwards SIGTERM/SIGINT to every worker, restarts a worker that
dies while the gateway is running, and exits once all workers have exited.

Metrics add up across workers: the supervisor makes a fresh folder and hands it
to every worker as PROMETHEUS_MULTIPROC_DIR (prometheus-client reads it when
first imported) and GATEWAY_METRICS__MULTIPROCESS_DIR (settings, for /metrics).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead

logger = logging.getLogger("gateway.supervisor")

POLL_S = 0.1
RESTART_BACKOFF_S = 0.5
MAX_RESTART_BACKOFF_S = 8.0
STABLE_AFTER_S = 5.0


def _worker_command(config_path: Path | None, host: str, port: int) -> list[str]:
    command = [sys.executable, "-m", "gateway", "serve", "--workers", "1", "--reuse-port"]
    command += ["--host", host, "--port", str(port)]
    if config_path is not None:
        command += ["--config", str(config_path)]
    return command


def supervise(workers: int, config_path: Path | None, host: str, port: int) -> int:
    """Run ``workers`` children until a signal asks us to stop; return the exit code."""
    metrics_dir = tempfile.mkdtemp(prefix="gateway-metrics-")
    try:
        return _supervise(workers, _worker_command(config_path, host, port), metrics_dir, port)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _supervise(workers: int, command: list[str], metrics_dir: str, port: int) -> int:
    env = dict(os.environ)
    env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    env["GATEWAY_METRICS__MULTIPROCESS_DIR"] = metrics_dir
    children: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
    stop_signal: int | None = None
    backoff = RESTART_BACKOFF_S

    def spawn() -> None:
        child = subprocess.Popen(command, env=env)
        children[child.pid] = (child, time.monotonic())
        logger.info("worker %d started", child.pid)
        if stop_signal is not None:  # the signal landed while we were starting it
            child.send_signal(stop_signal)

    def forward(signum: int, _frame: object) -> None:
        nonlocal stop_signal
        stop_signal = signum
        for child, _started in list(children.values()):
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for _ in range(workers):
        spawn()
    logger.info("supervisor %d running %d workers on port %d", os.getpid(), workers, port)

    exit_code = 0
    while children:
        time.sleep(POLL_S)
        for pid, (child, started) in list(children.items()):
            code = child.poll()
            if code is None:
                continue
            del children[pid]
            mark_process_dead(pid, metrics_dir)  # type: ignore[no-untyped-call]
            if stop_signal is not None:
                exit_code = exit_code or max(code, 0)
                continue
            # A worker that keeps dying at start-up (port taken, ...) is retried ever
            # more slowly instead of in a tight loop.
            lived = time.monotonic() - started
            backoff = RESTART_BACKOFF_S if lived > STABLE_AFTER_S else backoff * 2
            backoff = min(backoff, MAX_RESTART_BACKOFF_S)
            logger.warning("worker %d exited with %d; restarting in %.1fs", pid, code, backoff)
            time.sleep(backoff)
            if stop_signal is None:
                spawn()
    logger.info("supervisor %d: all workers stopped", os.getpid())
    return exit_code
