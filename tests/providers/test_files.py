"""providers.d: hot reload (add, change, remove, broken file), key sources, read-only API."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gateway.app import create_app
from gateway.providers.registry import PROVIDERS
from gateway.settings import Settings
from gateway.storage.crypto import Cipher
from tests.conftest import AppClient
from tests.test_app import assert_openai_error

RELOAD_WITHIN_S = 2.0


async def wait_for(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + RELOAD_WITHIN_S
    while not check():
        assert time.monotonic() < deadline, "not applied in time"
        await asyncio.sleep(0.02)


def write(path: Path, text: str) -> None:
    """Replace a file atomically, as editors and config management do."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "providers.d"
    path.mkdir()
    return path


async def test_hot_reload_add_change_break_remove(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TEST_LOCAL_KEY", "env-key-value-123456")
    client = await aiohttp_client(create_app(make_settings(providers={"watch_interval_s": 0.2})))
    registry = client.app[PROVIDERS]
    (folder / "ignored.yaml.example").write_text("template: vllm\n")

    write(folder / "local.yaml", "template: vllm\napi_key: ${TEST_LOCAL_KEY}\npriority: 5\n")
    await wait_for(lambda: registry.get("local") is not None)
    live = registry.get("local")
    assert live is not None and live.priority == 5
    assert live.target.headers == {"Authorization": "Bearer env-key-value-123456"}
    provider = await (await client.get("/api/v1/providers/local")).json()
    assert provider["source"] == "file" and provider["name"] == "local"
    assert provider["file"] == str(folder / "local.yaml")
    assert provider["has_api_key"] is True and provider["api_key_hint"] == "env…3456"
    assert len(registry.all()) == 1  # the .example file is not loaded

    write(folder / "local.yaml", "template: vllm\npriority: 9\nbase_url: http://10.0.0.5:8000/v1\n")
    await wait_for(lambda: (p := registry.get("local")) is not None and p.priority == 9)
    live = registry.get("local")
    assert live is not None and live.target.base_url == "http://10.0.0.5:8000/v1"
    assert "Authorization" not in live.target.headers

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="gateway.providers.files"):
        write(folder / "local.yaml", "template: vllm\npriority: high\n")
        await wait_for(lambda: any(r.name == "gateway.providers.files" for r in caplog.records))
    message = next(r for r in caplog.records if r.name == "gateway.providers.files").getMessage()
    assert f"{folder / 'local.yaml'}: priority:" in message
    assert "last good version" in message
    live = registry.get("local")
    assert live is not None and live.priority == 9  # the last good version stays

    (folder / "local.yaml").unlink()
    await wait_for(lambda: registry.get("local") is None)
    response = await client.get("/api/v1/providers/local")
    assert response.status == 404


async def test_default_watch_interval_applies_a_new_file_within_2_s(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], folder: Path
) -> None:
    settings = make_settings()
    assert settings.providers.watch_interval_s <= 1.0  # the shipped default, not a test tweak
    client = await aiohttp_client(create_app(settings))
    registry = client.app[PROVIDERS]
    await asyncio.sleep(0.05)  # the first scan is behind us: this file is new to the watcher
    write(folder / "late.yaml", "template: vllm\n")
    await wait_for(lambda: registry.get("late") is not None)


async def test_file_providers_are_read_only_over_the_api(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], folder: Path
) -> None:
    (folder / "fixed.yaml").write_text("id: fixed\nname: Fixed\ntemplate: ollama\n")
    client = await aiohttp_client(create_app(make_settings()))
    for method, json in (
        ("PUT", {"name": "x"}),
        ("PATCH", {"name": "x"}),
        ("DELETE", None),
    ):
        response = await client.request(method, "/api/v1/providers/fixed", json=json)
        assert response.status == 409, method
        error = assert_openai_error(await response.json(), "provider_from_file")
        assert str(folder / "fixed.yaml") in str(error["message"])
    response = await client.post(
        "/api/v1/providers", json={"id": "fixed", "name": "Fixed", "template": "ollama"}
    )
    assert response.status == 409
    assert "fixed.yaml" in str(assert_openai_error(await response.json())["message"])
    listing = await (await client.get("/api/v1/providers?template=ollama")).json()
    assert [(p["id"], p["source"]) for p in listing["data"]] == [("fixed", "file")]


async def test_key_from_file_and_encrypted_token(
    aiohttp_client: AppClient,
    make_settings: Callable[..., Settings],
    folder: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    master = Fernet.generate_key().decode()
    token = Cipher([master], "test").encrypt("sk-encrypted-secret-value-777")
    (tmp_path / "secret.txt").write_text("sk-from-a-secret-file-888\n")
    (folder / "a.yaml").write_text("name: A\ntemplate: groq\napi_key_file: ../secret.txt\n")
    (folder / "b.yaml").write_text(f"name: B\ntemplate: anthropic\napi_key_encrypted: {token}\n")
    (folder / "c.yaml").write_text("name: C\ntemplate: groq\napi_key: x\napi_key_file: y\n")
    (folder / "d.yaml").write_text("name: D\ntemplate: groq\napi_key: ${SURELY_UNSET_VAR_42}\n")
    (folder / "e.yaml").write_text("name: E\ntemplate: groq\n")
    (folder / "f.yaml").write_text("template: groq\napi_key: sk-literal-in-broken-file\nx: [\n")
    client = await aiohttp_client(create_app(make_settings(secret_key=master)))
    registry = client.app[PROVIDERS]
    a, b = registry.get("a"), registry.get("b")
    assert a is not None and a.target.headers["Authorization"] == "Bearer sk-from-a-secret-file-888"
    assert b is not None and b.target.headers["x-api-key"] == "sk-encrypted-secret-value-777"
    assert registry.get("c") is None and registry.get("d") is None and registry.get("e") is None
    assert registry.get("f") is None
    errors = [r.getMessage() for r in caplog.records if r.name == "gateway.providers.files"]
    assert any(f"{folder / 'c.yaml'}: api_key_file: give only one" in e for e in errors)
    assert any(f"{folder / 'd.yaml'}: api_key: environment variable" in e for e in errors)
    assert any(f"{folder / 'e.yaml'}: api_key: " in e for e in errors)
    assert any(f"{folder / 'f.yaml'}: (file): not valid YAML" in e for e in errors)
    assert all("sk-literal-in-broken-file" not in e for e in errors)


def test_the_shipped_example_documents_every_field_and_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.providers.files import KEY_FIELDS, load_provider_file
    from gateway.providers.records import ProviderFields
    from gateway.providers.templates import load_templates

    example = Path(__file__).resolve().parents[2] / "providers.d" / "example.yaml.example"
    text = example.read_text()
    for field in (*ProviderFields.model_fields, *KEY_FIELDS):
        assert f"{field}:" in text, field
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example-key-for-the-test-0042")
    copy = tmp_path / "example.yaml"
    copy.write_text(text)
    loaded = load_provider_file(
        copy, load_templates(), Cipher([Fernet.generate_key().decode()], "test")
    )
    assert loaded.record.id == "my-openai" and loaded.record.priority == 10
    assert loaded.api_key == "sk-example-key-for-the-test-0042"
