"""The SSRF guard: refused at write time by address and name, and again at connect time."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.http import ConnectFailed, ConnectionPool, Timeouts
from gateway.security.ssrf import GuardedResolver, UnsafeUpstream, check_upstream_url
from gateway.settings import Settings
from tests.fakes.base import API_KEY
from tests.fakes.openai_upstream import FakeOpenAI

ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.1.1:8080",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:169.254.169.254]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.GOOGLE.INTERNAL./",
    "http://[fe80::1]/",
    "http://[2002:a9fe:a9fe::]/",  # 6to4 around 169.254.169.254
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 around it
    "http://[2001:0:4136:e378:8000:63bf:5601:5601]/",  # Teredo, client 169.254.169.254 (xor'd)
]
PRIVATE = [
    "http://10.0.0.5:8000/v1",
    "http://192.168.1.10/",
    "http://172.16.0.1/",
    "http://127.0.0.1:11434",
    "http://localhost:11434",
    "http://[::1]:8000",
    "http://[fd12:3456::1]/",
    "http://100.64.0.1/",
    "http://0.0.0.0:8000/",
    "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    "http://[2002:c0a8:10a::1]/",  # 6to4 around 192.168.1.10
    "http://[64:ff9b::7f00:1]/",  # NAT64 around 127.0.0.1
    "http://[64:ff9b:1::a00:5]/",  # local-use NAT64 around 10.0.0.5
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    "http://[::10.0.0.5]/",  # IPv4-compatible
]


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
@pytest.mark.parametrize("allow_private", [False, True])
def test_metadata_and_link_local_always_refused(url: str, allow_private: bool) -> None:
    with pytest.raises(UnsafeUpstream) as caught:
        check_upstream_url(url, allow_private)
    assert caught.value.param == "base_url"
    assert caught.value.http_status == 400


@pytest.mark.parametrize("url", PRIVATE)
def test_private_only_when_allowed(url: str) -> None:
    with pytest.raises(UnsafeUpstream):
        check_upstream_url(url, False)
    assert check_upstream_url(url, True) == url


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "http:///nohost", "https://user:pw@api.example.com/", "http://h:99999/"],
)
def test_malformed_urls_refused(url: str) -> None:
    with pytest.raises(UnsafeUpstream) as caught:
        check_upstream_url(url, True)
    assert "pw" not in caught.value.message


def test_public_urls_pass() -> None:
    for url in (
        "https://api.openai.com/v1",
        "https://8.8.8.8/",
        "http://[2001:4860::8888]/",
        "http://[2002:808:808::]/",  # 6to4 around 8.8.8.8
        "http://[64:ff9b::808:808]/",  # NAT64 around 8.8.8.8
    ):
        assert check_upstream_url(url, False) == url


class FakeDNS(AbstractResolver):
    """Answers from a fixed table, as a rebinding attacker's DNS would."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.table[host]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None: ...


@pytest.fixture
async def local_upstream(aiohttp_server: Callable[..., object]) -> tuple[int, list[str]]:
    seen: list[str] = []

    async def hello(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    server = await aiohttp_server(app)  # type: ignore[operator]
    return int(server.port), seen


async def test_resolved_address_is_checked_at_connect_time(
    local_upstream: tuple[int, list[str]],
) -> None:
    port, seen = local_upstream
    dns = FakeDNS(
        {
            "rebind.test": "169.254.169.254",
            "local.test": "127.0.0.1",
            "v6meta.test": "fd00:ec2::254",
        }
    )
    # The names pass the write-time check: only resolution reveals where they lead.
    check_upstream_url("http://rebind.test/", True)
    check_upstream_url("http://local.test/", False)

    timeouts = Timeouts(connect=5, first_byte=5, idle=5, total=5)
    guarded = ConnectionPool(limit=8, resolver=GuardedResolver(allow_private=False, inner=dns))
    for host in ("rebind.test", "local.test", "v6meta.test", "metadata.google.internal"):
        with pytest.raises(ConnectFailed, match="refused by policy"):
            await guarded.request("GET", f"http://{host}:{port}/", {}, None, timeouts)
    await guarded.close()
    assert seen == []

    permissive = ConnectionPool(limit=8, resolver=GuardedResolver(allow_private=True, inner=dns))
    response = await permissive.request("GET", f"http://local.test:{port}/", {}, None, timeouts)
    assert await response.read() == b"hello"
    with pytest.raises(ConnectFailed, match="refused by policy"):
        await permissive.request("GET", f"http://rebind.test:{port}/", {}, None, timeouts)
    await permissive.close()
    assert seen == ["/"]


async def test_provider_api_refuses_unsafe_base_urls(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    make_settings: Callable[..., Settings],
) -> None:
    """The admin API refuses metadata addresses always, private ones unless allowed."""
    strict = await aiohttp_client(
        create_app(make_settings(security={"allow_private_upstreams": False}))
    )
    for url in (
        "http://169.254.169.254/latest",
        "http://metadata.google.internal/v1",
        "http://10.0.0.5:8000/v1",
    ):
        response = await strict.post(
            "/api/v1/providers", json={"name": "bad", "template": "vllm", "base_url": url}
        )
        assert response.status == 400, url
        error = (await response.json())["error"]
        assert error["param"] == "base_url"
        assert error["code"] == "unsafe_upstream"
    assert (await (await strict.get("/api/v1/providers")).json())["data"] == []

    relaxed = await aiohttp_client(
        create_app(make_settings(security={"allow_private_upstreams": True}))
    )
    ok = await relaxed.post(
        "/api/v1/providers",
        json={"name": "local", "template": "vllm", "base_url": "http://10.0.0.5:8000/v1"},
    )
    assert ok.status == 201
    still_bad = await relaxed.patch(
        "/api/v1/providers/local", json={"base_url": "http://169.254.169.254/"}
    )
    assert still_bad.status == 400


async def test_the_gateways_own_upstream_session_checks_resolved_addresses(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding through the real app: the names pass the API, the connections are refused.

    private.test leads to the fake upstream itself, so only the guard keeps the request
    from arriving; with private upstreams allowed the same provider gets through.
    """
    dns = FakeDNS({"rebind.test": "169.254.169.254", "private.test": "127.0.0.1"})
    monkeypatch.setattr("gateway.security.ssrf.DefaultResolver", lambda: dns)
    hello = {"model": "model-a", "messages": [{"role": "user", "content": "hi"}]}
    async with FakeOpenAI() as fake:
        for allow_private in (False, True):
            settings = make_settings(
                security={"allow_private_upstreams": allow_private},
                health={"enabled": False},
                catalog={"prefetch": False},
            )
            client = await aiohttp_client(create_app(settings))
            for pid, host in (("priv", "private.test"), ("meta", "rebind.test")):
                await client.delete(f"/api/v1/providers/{pid}")  # from the round before
                body = {"id": pid, "name": pid, "template": "openai", "api_key": API_KEY,
                        "base_url": f"http://{host}:{fake.port}/v1"}  # fmt: skip
                assert (await client.post("/api/v1/providers", json=body)).status == 201
            meta = await (await client.post("/api/v1/providers/meta/test")).json()
            assert meta["ok"] is False
            assert "refused by policy" in str(meta), meta
            assert (await client.get("/api/v1/providers/meta/models")).status == 502
            priv = await (await client.post("/api/v1/providers/priv/test")).json()
            assert priv["ok"] is allow_private
            chat = await client.post(
                "/v1/chat/completions", json=hello, headers={"X-Gateway-Provider": "priv"}
            )
            assert (chat.status == 200) is allow_private
            if not allow_private:
                message = (await chat.json())["error"]["message"]
                assert "refused by policy" in message
                assert "security.allow_private_upstreams" in message
                assert "127.0.0.1" not in message
            assert len(fake.requests) == (2 if allow_private else 0)
            await client.close()
