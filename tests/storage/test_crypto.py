"""The master key: generated in development, required in production, checked at start-up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from gateway.app import create_app
from gateway.security.redaction import mask_secrets
from gateway.settings import Settings
from gateway.storage.crypto import Cipher, MasterKeyError, load_cipher
from tests.conftest import AppClient

KEY = "sk-crypto-test-provider-key-5678"


def test_development_generates_a_private_key_file(
    make_settings: Callable[..., Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(env="development")
    with caplog.at_level(logging.WARNING):
        first = load_cipher(settings)
    key_file = tmp_path / "data" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert any("GATEWAY_SECRET_KEY is not set" in r.getMessage() for r in caplog.records)
    token = first.encrypt("hello")
    caplog.clear()
    second = load_cipher(settings)  # reuses the file, no new warning
    assert second.decrypt(token) == "hello"
    assert not caplog.records


def test_production_without_a_key_refuses(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(MasterKeyError) as caught:
        load_cipher(make_settings(env="production"))
    assert "GATEWAY_SECRET_KEY is not set" in str(caught.value)
    assert "production" in str(caught.value)


def test_malformed_key_is_named_not_echoed(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(MasterKeyError) as caught:
        load_cipher(make_settings(secret_key="not-a-fernet-key-at-all"))
    assert "GATEWAY_SECRET_KEY" in str(caught.value) and "not a Fernet key" in str(caught.value)
    assert "not-a-fernet-key-at-all" not in str(caught.value)


def test_several_keys_newest_first(make_settings: Callable[..., Settings]) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Cipher([old], "x").encrypt("v")
    both = load_cipher(make_settings(secret_key=f"{new},{old}"))
    assert both.decrypt(token) == "v"
    assert Cipher([new], "x").decrypt(both.encrypt("w")) == "w"


async def test_wrong_master_key_refuses_start_and_changes_nothing(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    right = Fernet.generate_key().decode()
    client = await aiohttp_client(create_app(make_settings(secret_key=right)))
    response = await client.post(
        "/api/v1/providers", json={"id": "p", "name": "P", "template": "openai", "api_key": KEY}
    )
    assert response.status == 201
    await client.close()
    store = tmp_path / "data" / "providers.json"
    before = store.read_bytes()

    wrong = Fernet.generate_key().decode()
    runner = web.AppRunner(create_app(make_settings(secret_key=wrong)))
    with pytest.raises(MasterKeyError) as caught:
        await runner.setup()
    await runner.cleanup()
    assert "wrong master key" in str(caught.value)
    assert "GATEWAY_SECRET_KEY" in str(caught.value)
    assert store.read_bytes() == before


def test_only_one_generated_key_wins(tmp_path: Path) -> None:
    from gateway.storage.crypto import create_key_file

    path = tmp_path / "data" / "secret.key"
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    assert create_key_file(path, first) is True
    assert create_key_file(path, second) is False
    assert path.read_text() == first + "\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret.key"]  # no leftovers


async def test_every_master_key_is_masked_in_errors(
    aiohttp_client: AppClient, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """The generated development key as well as GATEWAY_SECRET_KEY's (all of a rotation)."""
    await aiohttp_client(create_app(make_settings(env="development")))
    generated = (tmp_path / "data" / "secret.key").read_text().strip()
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    load_cipher(make_settings(secret_key=f"{new}, {old}"))
    for key in (generated, new, old):
        message = mask_secrets(f"upstream said: bad key {key}.")
        assert key not in message and message == "upstream said: bad key ***."
