"""No key reaches the logs: the redacting filter, a whole served session, and the auth test run."""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gateway.logs import JsonFormatter
from gateway.security.redaction import RedactingFilter, redact, register_secret

GW_KEY = "gw-" + "A1b2C3d4" * 5 + "xyz"
SK_KEY = "sk-proj-" + "Zz9" * 12
ROOT = Path(__file__).resolve().parents[2]
SECRET_BEARING_TESTS = [
    # Every test module that sends keys (gateway keys, provider keys).
    "tests/middleware/test_auth.py",
    "tests/middleware/test_rate_limit.py",
    "tests/limits/test_policy.py",
    "tests/keys",
    "tests/test_cli_keys.py",
    "tests/routes/test_providers.py",
    "tests/routes/test_provider_checks.py",
    "tests/routes/test_chat.py",
    "tests/test_services.py",
    "tests/test_openai_sdk.py",
]


def test_redact_patterns() -> None:
    text = (
        f"key {GW_KEY}, provider {SK_KEY}, Authorization: Bearer tok.en-123, "
        f'{{"x-api-key": "{SK_KEY}"}} api_key=plain-secret-1'
    )
    out = redact(text)
    for secret in (GW_KEY, SK_KEY, "tok.en-123", "plain-secret-1"):
        assert secret not in out
    assert "gw-***" in out and "sk-***" in out and "Authorization: ***" in out
    assert redact("sent bearer abc.def") == "sent Bearer ***"
    assert redact("GET /api/v1/health 200 1.2ms 10B") == "GET /api/v1/health 200 1.2ms 10B"


def test_registered_secrets_of_any_shape() -> None:
    register_secret("plainadminvalue42")
    register_secret("")  # ignored
    assert redact("admin plainadminvalue42 here") == "admin *** here"


@pytest.mark.parametrize("formatter", [logging.Formatter("%(message)s"), JsonFormatter()])
def test_filter_covers_args_extras_and_tracebacks(formatter: logging.Formatter) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("presented %s", GW_KEY, extra={"header": f"Bearer {SK_KEY}"})
        try:
            raise ValueError(f"upstream refused {SK_KEY}")
        except ValueError:
            logger.exception("call failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "presented" in output and "call failed" in output and "ValueError" in output
    assert GW_KEY not in output and SK_KEY not in output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, data: bytes | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_served_session_logs_no_secret(tmp_path: Path) -> None:
    """Serve with DEBUG logs; create, use, misuse and revoke keys; search stderr for them."""
    import json

    admin = "admin-" + os.urandom(12).hex()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        PYTHONPATH=str(ROOT),
        GATEWAY_ADMIN_KEY=admin,
        GATEWAY_LOGGING__LEVEL="DEBUG",
        GATEWAY_LOGGING__FORMAT="json",
    )
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    used: list[str] = [admin, GW_KEY, SK_KEY]
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if call(base + "/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        status, body = call(
            base + "/api/v1/keys",
            "POST",
            {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
            b'{"name": "redaction"}',
        )
        assert status == 201
        created = json.loads(body)
        used.append(created["key"])
        assert call(base + "/api/v1/keys", headers={"X-API-Key": admin})[0] == 200
        assert call(base + "/api/v1/keys", headers={"X-API-Key": created["key"]})[0] == 403
        assert call(base + "/api/v1/keys", headers={"Authorization": f"Bearer {GW_KEY}"})[0] == 401
        assert call(base + "/api/v1/keys", headers={"X-API-Key": SK_KEY})[0] == 401
        revoke = call(base + f"/api/v1/keys/{created['id']}", "DELETE", {"X-API-Key": admin})
        assert revoke[0] == 204
        assert call(base + "/api/v1/keys", headers={"X-API-Key": created["key"]})[0] == 401
        # A request aiohttp's parser refuses, with a key in it.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(
                f"GET /api/v1/keys HTTP/1.1\r\nAuthorization: Bearer {GW_KEY}\r\n"
                f"X-Bad\x01: {SK_KEY}\r\n\r\n".encode()
            )
            raw.recv(4096)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    text = log_path.read_text()
    assert " listening on http" in text and "/api/v1/keys" in text  # the logs were captured
    for secret in used:
        assert secret not in text, "a secret reached the logs"


def test_the_auth_test_run_logs_no_key(tmp_path: Path) -> None:
    """Every record of the auth and key tests, at DEBUG, without any redaction: no key in it."""
    from tests.fakes.base import API_KEY
    from tests.middleware.test_auth import ADMIN_KEY

    log_file = tmp_path / "auth-tests.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--log-level=DEBUG",
            f"--log-file={log_file}",
            "--log-file-level=DEBUG",
            *SECRET_BEARING_TESTS,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    text = log_file.read_text()
    assert text.strip(), "nothing was logged"
    # The short provider keys those tests use by name, then anything key-shaped.
    for secret in (ADMIN_KEY, API_KEY, "sk-secret-test", "sk-secret-a", "sk-wrong"):
        assert secret not in text, secret
    assert not re.search(r"(gw|sk)-[A-Za-z0-9_-]{20,}", text)
