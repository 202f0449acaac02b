"""``gateway migrate``: file -> Redis -> file copies every collection as stored."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from gateway.cluster.client import redis_client
from gateway.settings import StorageSettings
from gateway.storage.file import FileStorage
from gateway.storage.redis import RedisStorage
from tests.fakes.redis_server import RedisServer
from tests.processes import run_cli

ENCRYPTED = "gAAAAABpZ2F0ZXdheS1lbmNyeXB0ZWQta2V5LXRva2Vu"  # stands for a Fernet token

STORED = {
    "providers": {
        "openai": {"name": "OpenAI", "template": "openai", "api_key_encrypted": ENCRYPTED},
        "local": {"name": "Ollama", "template": "ollama", "api_key_encrypted": None},
    },
    "keys": {"k1": {"name": "ci", "hash": "sha256:abc", "scopes": ["chat"]}},
    "extras": {},
}


async def fill_file_store(folder: Path) -> None:
    storage = FileStorage(folder)
    await storage.open()
    for name, docs in STORED.items():
        await storage.collection(name).replace_all(docs)
    await storage.close()


async def read_redis(url: str) -> dict[str, dict[str, object]]:
    settings = StorageSettings(backend="redis", redis_url=SecretStr(url))
    storage = RedisStorage(redis_client(settings), 1.0)
    await storage.open()
    found = {name: await storage.collection(name).all() for name in STORED}
    await storage.close()
    await storage.client.aclose()
    return found


async def test_round_trip_file_to_redis_and_back(tmp_path: Path, redis_url: str) -> None:
    await fill_file_store(tmp_path / "data")
    env = {"GATEWAY_STORAGE__REDIS_URL": redis_url}

    result = run_cli("migrate", "--from", "file", "--to", "redis", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "providers: 2 documents copied from file to redis" in result.stdout
    assert "keys: 1 documents copied" in result.stdout
    assert "extras: 0 documents copied" in result.stdout
    assert redis_url not in result.stdout + result.stderr
    assert await read_redis(redis_url) == {
        "providers": STORED["providers"],
        "keys": STORED["keys"],
        "extras": {},
    }

    back = tmp_path / "restored"
    result = run_cli(
        "migrate",
        "--from",
        "redis",
        "--to",
        "file",
        cwd=tmp_path,
        env={**env, "GATEWAY_STORAGE__PATH": str(back)},
    )
    assert result.returncode == 0, result.stderr
    for name in ("providers", "keys"):
        on_disk = json.loads((back / f"{name}.json").read_text())["documents"]
        assert on_disk == STORED[name]
    assert ENCRYPTED in (back / "providers.json").read_text()


async def test_only_named_collections_are_copied(tmp_path: Path, redis_url: str) -> None:
    await fill_file_store(tmp_path / "data")
    env = {"GATEWAY_STORAGE__REDIS_URL": redis_url}
    result = run_cli(
        "migrate", "--from", "file", "--to", "redis", "--collection", "keys", cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    found = await read_redis(redis_url)
    assert found["keys"] == STORED["keys"]
    assert found["providers"] == {}


def test_refusals(tmp_path: Path, redis_server: RedisServer, redis_url: str) -> None:
    same = run_cli("migrate", "--from", "file", "--to", "file", cwd=tmp_path)
    assert same.returncode == 2
    assert "different backends" in same.stderr

    no_url = run_cli("migrate", "--from", "file", "--to", "redis", cwd=tmp_path)
    assert no_url.returncode == 2
    assert "redis_url" in no_url.stderr

    redis_server.stop()
    down = run_cli(
        "migrate",
        "--from",
        "file",
        "--to",
        "redis",
        cwd=tmp_path,
        env={"GATEWAY_STORAGE__REDIS_URL": redis_url},
    )
    assert down.returncode == 1
    assert "migration failed: cannot reach Redis" in down.stderr
    assert "Traceback" not in down.stderr
