"""Which proxy an upstream goes through: NO_PROXY as curl reads it, credentials, overrides."""

from __future__ import annotations

import pytest

from gateway.egress import NoProxy, ProxyRules, masked_proxy_url, parse_proxy


@pytest.mark.parametrize(
    ("spec", "host", "bypass"),
    [
        ("example.com", "example.com", True),
        ("example.com", "api.example.com", True),
        ("example.com", "badexample.com", False),
        (".example.com", "example.com", True),  # a leading dot changes nothing (curl 7.86+)
        (".example.com", "api.example.com", True),
        ("example.com.", "api.example.com.", True),
        ("localhost, internal", "svc.internal", True),
        ("localhost internal", "svc.internal", True),
        ("10.0.0.0/8", "10.1.2.3", True),
        ("10.0.0.0/8", "11.1.2.3", False),
        ("192.168.1.5", "192.168.1.5", True),
        ("[::1]", "::1", True),
        ("fd00::/8", "[fd12::1]", True),
        ("*", "anything.example", True),
        ("", "example.com", False),
        ("example.com", "10.0.0.1", False),
    ],
)
def test_no_proxy_rules(spec: str, host: str, bypass: bool) -> None:
    assert NoProxy(spec).bypass(host) is bypass


def test_proxy_urls_carry_credentials_only_into_the_header() -> None:
    proxy = parse_proxy("http://us%40er:p%3Ass@proxy.example:3128")
    assert (proxy.host, proxy.port, proxy.shown) == ("proxy.example", 3128, "proxy.example:3128")
    assert proxy.authorization == "Basic dXNAZXI6cDpzcw=="  # us@er:p:ss
    assert parse_proxy("proxy.example").port == 80
    assert masked_proxy_url("http://u:secret@p.example:1") == "http://u:***@p.example:1"
    for bad in ("https://p.example", "socks5://p.example", "http://", "http://p:99999"):
        with pytest.raises(ValueError) as caught:
            parse_proxy(bad)
        assert "p.example" not in str(caught.value)


def test_rules_per_scheme_and_overrides() -> None:
    rules = ProxyRules("http://plain.example:1", "http://tls.example:2", "direct.example")
    assert rules.choose("http", "api.example") == parse_proxy("http://plain.example:1")
    assert rules.choose("https", "api.example") == parse_proxy("http://tls.example:2")
    assert rules.choose("https", "x.direct.example") is None
    assert rules.choose("https", "x.direct.example", "http://own.example:3") == parse_proxy(
        "http://own.example:3"
    )
    assert rules.choose("https", "api.example", "") is None
    assert ProxyRules().choose("https", "api.example") is None
