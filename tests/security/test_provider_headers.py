"""Provider headers cannot frame requests or carry the key; secret ones are sealed and masked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.providers.files import ProviderFileError, load_provider_file
from gateway.providers.templates import load_templates
from gateway.settings import Settings
from gateway.storage.crypto import Cipher, generate_key
from tests.conftest import AppClient
from tests.fakes.base import API_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.test_app import assert_openai_error

Client = TestClient[web.Request, web.Application]
RESERVED = ("Host", "Content-Length", "Transfer-Encoding", "Connection", "Authorization",
            "x-api-key", "X-Goog-Api-Key")  # fmt: skip
SECRET = "hdr-secret-value-5150"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
async def gateway(aiohttp_client: AppClient, make_settings: Callable[..., Settings]) -> Client:
    settings = make_settings(health={"enabled": False}, catalog={"prefetch": False})
    return await aiohttp_client(create_app(settings))


def provider(**fields: Any) -> dict[str, Any]:
    return {"id": "p", "name": "p", "template": "openai", "api_key": API_KEY, **fields}


async def test_framing_and_credential_headers_are_refused(gateway: Client) -> None:
    for name in RESERVED:
        answer = await gateway.post("/api/v1/providers", json=provider(headers={name: "x"}))
        assert answer.status == 400, name
        error = assert_openai_error(await answer.json(), "invalid_provider")
        assert error["param"] == "headers" and repr(name) in str(error["message"])
    await gateway.post("/api/v1/providers", json=provider())
    patched = await gateway.patch("/api/v1/providers/p", json={"headers": {"HOST": "evil"}})
    assert patched.status == 400


async def test_api_key_with_cr_lf_or_nul_is_refused(gateway: Client) -> None:
    for bad in ("sk-abc\r\nX-Evil: 1", "sk-abc\n", "sk-\x00abc"):
        answer = await gateway.post("/api/v1/providers", json=provider(api_key=bad))
        assert answer.status == 400
        assert assert_openai_error(await answer.json())["param"] == "api_key"
    assert (await gateway.get("/api/v1/providers/p")).status == 404


def test_providers_d_refuses_framing_headers(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(provider(headers={"Content-Length": "0"})))
    with pytest.raises(ProviderFileError) as caught:
        load_provider_file(path, load_templates(None), Cipher([generate_key()], "test"))
    assert "Content-Length" in str(caught.value)


async def test_secret_headers_are_sealed_masked_and_sent(
    gateway: Client, fake: FakeOpenAI, tmp_path: Path
) -> None:
    headers = {"X-Custom-Auth": SECRET, "X-Team": "blue"}
    created = await gateway.post(
        "/api/v1/providers", json=provider(base_url=fake.url, headers=headers)
    )
    assert created.status == 201, await created.text()
    shown = (await created.json())["headers"]
    assert shown == {"X-Custom-Auth": "***", "X-Team": "blue"}
    stored = [p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert stored and not any(SECRET.encode() in data for data in stored)

    async def upstream_saw() -> str:
        await gateway.post("/api/v1/providers/p/test")
        return fake.requests[-1].headers["X-Custom-Auth"]

    assert await upstream_saw() == SECRET
    # An edit of other fields, or one that sends the masked view back, keeps the secret.
    assert (await gateway.patch("/api/v1/providers/p", json={"priority": 2})).status == 200
    assert await upstream_saw() == SECRET
    back = await gateway.patch("/api/v1/providers/p", json={"headers": shown})
    assert back.status == 200 and (await back.json())["headers"] == shown
    assert await upstream_saw() == SECRET
    listed = await (await gateway.get("/api/v1/providers")).text()
    assert SECRET not in listed
