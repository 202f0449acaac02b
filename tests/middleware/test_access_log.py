"""Production logs: one JSON access line per request, never credentials or bodies."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from tests.processes import REPO_ROOT, gateway_process

SECRETS = ("sk-live-AUTHZ-0123456789", "xk-APIKEY-0123456789", "BODY-SECRET-0123456789")


def test_production_access_log_is_one_json_line_per_request(tmp_path: Path) -> None:
    env = {
        "GATEWAY_ENV": "production",
        "GATEWAY_ADMIN_KEY": "admin-key-for-the-log-test-0123456789",
        "GATEWAY_SECRET_KEY": "LxhoOCmSVJAOS-nTjPlIGQxkIT2wszqmPhcdCY9uHuM=",
    }
    config = str(REPO_ROOT / "config" / "gateway.yaml")
    sent = [
        ("GET", "/api/v1/health", None, "req-health-1", "/api/v1/health"),
        ("GET", "/api/v1/health", SECRETS[2], "req-health-2", "/api/v1/health"),
        ("POST", "/api/v1/health", SECRETS[2], "req-post-3", "<unmatched>"),  # 405
    ]
    answers = []
    with gateway_process("serve", "--config", config, "--port", "0", cwd=tmp_path, env=env) as gw:
        connection = http.client.HTTPConnection("127.0.0.1", gw.port(), timeout=5)
        for method, path, body, request_id, _route in sent:
            headers = {
                "Authorization": f"Bearer {SECRETS[0]}",
                "X-API-Key": SECRETS[1],
                "X-Request-ID": request_id,
            }
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            assert response.headers["X-Request-ID"] == request_id
            answers.append((response.status, len(payload)))
        connection.close()
        assert gw.stop() == 0
        output = gw.output()

    records = [json.loads(line) for line in output.splitlines()]  # every line is JSON
    access = [record for record in records if record["logger"] == "gateway.access"]
    assert len(access) == len(sent)
    for record, (method, _path, _body, request_id, route), (status, length) in zip(
        access, sent, answers, strict=True
    ):
        assert record["method"] == method
        assert record["route"] == route
        assert record["status"] == status
        assert record["request_id"] == request_id
        assert record["bytes_sent"] == length
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
    assert [record["status"] for record in access[:2]] == [200, 200]
    for secret in SECRETS:
        assert secret not in output


async def test_in_process_access_lines_carry_status_route_id_and_bounded_method(
    client,  # type: ignore[no-untyped-def]
) -> None:
    import asyncio
    import io

    from gateway.middleware.access_log import ACCESS_LOG

    access_log = client.app[ACCESS_LOG]
    stream = io.StringIO()
    access_log.configure(stream, json=True, enabled=True)
    try:
        await client.get("/api/v1/health", headers={"X-Request-ID": "rid-ok"})
        await client.get("/api/v1/nowhere", headers={"X-Request-ID": "rid-404"})
        await client.request("TRACE", "/api/v1/health", headers={"X-Request-ID": "rid-trace"})
        await asyncio.sleep(0)
    finally:
        access_log.configure(io.StringIO(), json=False, enabled=False)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    seen = {(r["request_id"], r["method"], r["route"], r["status"]) for r in lines}
    assert seen == {
        ("rid-ok", "GET", "/api/v1/health", 200),
        ("rid-404", "GET", "<unmatched>", 404),
        ("rid-trace", "OTHER", "<unmatched>", 405),
    }
