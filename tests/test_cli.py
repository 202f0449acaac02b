"""The CLI over real subprocesses: start-up refusals, providers list, encrypt, secrets rotate."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from tests.processes import run_cli

KEY = "sk-cli-test-plaintext-key-4242"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_refuses_a_corrupt_store_naming_the_file(tmp_path: Path) -> None:
    store = tmp_path / "data" / "providers.json"
    store.parent.mkdir()
    store.write_text('{"version": 1, "documents": {"p": ')
    result = run_cli("serve", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot start" in result.stderr
    assert "data/providers.json is corrupt" in result.stderr
    assert "Traceback" not in result.stderr
    assert store.read_text() == '{"version": 1, "documents": {"p": '  # nothing overwritten


def test_production_without_master_key_refuses(tmp_path: Path) -> None:
    result = run_cli(
        "serve",
        "--port",
        str(free_port()),
        cwd=tmp_path,
        env={"GATEWAY_ENV": "production", "GATEWAY_ADMIN_KEY": "a" * 40},
    )
    assert result.returncode == 1
    assert "GATEWAY_SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_encrypt_token_works_in_providers_d_and_list_shows_it(tmp_path: Path) -> None:
    encrypted = run_cli("encrypt", cwd=tmp_path, stdin=KEY + "\n")
    assert encrypted.returncode == 0, encrypted.stderr
    token = encrypted.stdout.strip()
    assert token.startswith("gAAAA") and KEY not in encrypted.stdout
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
    folder = tmp_path / "providers.d"
    folder.mkdir()
    (folder / "groq.yaml").write_text(f"template: groq\napi_key_encrypted: {token}\n")

    listed = run_cli("providers", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    providers = json.loads(listed.stdout)
    assert [(p["id"], p["source"], p["has_api_key"]) for p in providers] == [("groq", "file", True)]
    assert providers[0]["api_key_hint"] == "sk-…4242"
    table = run_cli("providers", "list", cwd=tmp_path)
    assert table.returncode == 0
    assert table.stdout.splitlines()[1].split()[:3] == ["groq", "file", "groq"]
    assert KEY not in listed.stdout + listed.stderr + table.stdout + table.stderr


def _store_one_provider(cwd: Path, env: dict[str, str] | None = None) -> str:
    """Create a provider through the real app in this data folder; return its stored token."""
    script = (
        "import asyncio\n"
        "from gateway.app import create_app\n"
        "from gateway.settings import load_settings\n"
        "from aiohttp.test_utils import TestClient, TestServer\n"
        "async def main():\n"
        "    async with TestClient(TestServer(create_app(load_settings()))) as client:\n"
        "        r = await client.post('/api/v1/providers', json={'id': 'p', 'name': 'P',\n"
        f"            'template': 'openai', 'api_key': '{KEY}'}})\n"
        "        assert r.status == 201, r.status\n"
        "asyncio.run(main())\n"
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    full_env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    full_env.update(env or {})
    subprocess.run([sys.executable, "-c", script], cwd=cwd, env=full_env, check=True, timeout=30)
    return str(_stored(cwd)["api_key_encrypted"])


def _stored(cwd: Path) -> dict[str, object]:
    data = json.loads((cwd / "data" / "providers.json").read_text())
    return data["documents"]["p"]  # type: ignore[no-any-return]


def test_rotate_with_the_development_key_file(tmp_path: Path) -> None:
    before = _store_one_provider(tmp_path)
    old_key = (tmp_path / "data" / "secret.key").read_text().strip()
    result = run_cli("secrets", "rotate", cwd=tmp_path, stdin="")
    assert result.returncode == 0, result.stderr
    assert "rotated 1 provider key(s)" in result.stdout
    keys = (tmp_path / "data" / "secret.key").read_text().split()
    assert len(keys) == 2 and keys[1] == old_key
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
    assert f"new master key: {keys[0]}" in result.stdout
    after = str(_stored(tmp_path)["api_key_encrypted"])
    assert after != before
    assert Fernet(keys[0].encode()).decrypt(after.encode()).decode() == KEY
    listed = run_cli("providers", "list", "--json", cwd=tmp_path)
    assert json.loads(listed.stdout)[0]["has_api_key"] is True


def test_rotate_with_a_new_key_on_stdin(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _store_one_provider(tmp_path, {"GATEWAY_SECRET_KEY": old})
    result = run_cli(
        "secrets", "rotate", cwd=tmp_path, env={"GATEWAY_SECRET_KEY": old}, stdin=new + "\n"
    )
    assert result.returncode == 0, result.stderr
    assert f"GATEWAY_SECRET_KEY={new},{old}" in result.stdout
    assert "new master key" not in result.stdout  # it was given, not generated
    token = str(_stored(tmp_path)["api_key_encrypted"])
    assert Fernet(new.encode()).decrypt(token.encode()).decode() == KEY
    # the new key alone now starts the gateway's store
    listed = run_cli("providers", "list", cwd=tmp_path, env={"GATEWAY_SECRET_KEY": new})
    assert listed.returncode == 0, listed.stderr

    wrong = run_cli(
        "providers",
        "list",
        cwd=tmp_path,
        env={"GATEWAY_SECRET_KEY": Fernet.generate_key().decode()},
    )
    assert wrong.returncode == 1
    assert "wrong master key" in wrong.stderr and KEY not in wrong.stderr


def test_rotate_help_describes_the_new_key() -> None:
    result = run_cli("secrets", "rotate", "--help", cwd=Path.cwd())
    assert result.returncode == 0
    assert "standard input" in result.stdout and "generated" in result.stdout


def test_bad_port_on_the_command_line_exits_2_without_traceback(tmp_path: Path) -> None:
    result = run_cli("serve", "--port", "70000", cwd=tmp_path)
    assert result.returncode == 2
    assert "server.port: 70000" in result.stderr
    assert "Traceback" not in result.stderr
