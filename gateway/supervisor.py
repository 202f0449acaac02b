"""--workers N: N serving processes share one port (SO_REUSEPORT) under one supervisor.

The supervisor forwards SIGTERM/SIGINT to every worker, restarts a worker that
dies while the gateway is running, and exits once all workers have exited.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    command = _worker_command(config_path, host, port)
    children: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
    stop_signal: int | None = None
    backoff = RESTART_BACKOFF_S

    def spawn() -> None:
        child = subprocess.Popen(command)
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
