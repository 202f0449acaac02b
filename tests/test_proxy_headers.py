"""gateway.proxy's response headers: the serving provider and the upstream's rate limits."""

from __future__ import annotations

from multidict import CIMultiDict

from gateway.proxy.answers import answer_headers


def test_rate_limit_headers_of_every_provider_family_pass_under_their_own_names() -> None:
    upstream = CIMultiDict(
        {
            "x-ratelimit-remaining-requests": "99",
            "X-RateLimit-Reset-Tokens": "6ms",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:00Z",
            "retry-after": "3",
            "set-cookie": "session=upstream",
            "openai-organization": "org-secret",
            "content-length": "10",
        }
    )
    assert answer_headers(upstream, "claude") == {
        "X-Gateway-Provider": "claude",
        "x-ratelimit-remaining-requests": "99",
        "X-RateLimit-Reset-Tokens": "6ms",
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:00Z",
        "retry-after": "3",
    }
