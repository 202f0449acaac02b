"""Requests per minute by route group and key, answered with 429 at once; tokens per minute.

Every request is counted before its handler runs, so failed requests cost the
client as much as good ones. The X-RateLimit-* headers are stamped by a
response stamp (see response_stamps), so streamed and error responses carry them too.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.endpoints import RouteGroup, RouteInfo
from gateway.errors import RateLimited
from gateway.keys.principal import PRINCIPAL, Principal
from gateway.limits import LIMITER
from gateway.limits.base import Decision, RateLimiter
from gateway.settings import RateLimitSettings, Settings
from gateway.state import SETTINGS

logger = logging.getLogger("gateway.rate_limit")

WINDOW_S = 60.0
RATE_DECISION = web.RequestKey("rate_decision", Decision)
RATE_SUBJECT = web.RequestKey("rate_subject", str)
"""Whom the limits count: a key id, or ``ip:ADDRESS`` when the caller has no key."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Check = Callable[[web.Request, RouteInfo | None], Awaitable[None]]
"""A step of the admission frame (see gateway.middleware): returns, or raises an error."""


def trusted_networks(settings: RateLimitSettings) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in settings.trusted_proxies)


def client_ip(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """The peer address, or the nearest untrusted X-Forwarded-For hop behind trusted proxies."""
    peer = request.remote or "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def rate_subject(
    request: web.Request, principal: Principal | None, trusted: tuple[Network, ...]
) -> str:
    if principal is not None and principal.key_id is not None:
        return principal.key_id
    return "ip:" + client_ip(request, trusted)


def rate_limit_check(settings: Settings) -> Check:
    """The rate-limit step: counts the request, or raises 429."""
    config = settings.rate_limit
    trusted = trusted_networks(config)
    limits: dict[RouteGroup, int] = {
        "chat": config.chat_rpm,
        "models": config.models_rpm,
        "admin": config.admin_rpm,
        "default": config.default_rpm,
    }

    async def rate_limit(request: web.Request, info: RouteInfo | None) -> None:
        if not config.enabled or request.method == "OPTIONS":
            return
        group: RouteGroup = info.group if info is not None else "default"
        if group in ("public", "metrics"):
            return
        principal: Principal | None = request.get(PRINCIPAL)
        subject = rate_subject(request, principal, trusted)
        request[RATE_SUBJECT] = subject
        limit = principal.rpm if principal is not None and principal.rpm else limits[group]
        decision = await _hit(request.app[LIMITER], f"{group}:{subject}", limit, config)
        if decision is None:
            return
        request[RATE_DECISION] = decision
        if not decision.allowed:
            raise RateLimited(
                f"Rate limit of {limit} requests per minute exceeded; retry later.",
                headers={"Retry-After": str(max(1, math.ceil(decision.retry_after_s)))},
            )

    return rate_limit


async def charge_failed_auth(request: web.Request, group: RouteGroup) -> None:
    """Count a request whose key was refused against its client address; 429 when over.

    So guessing keys costs as much as any other request.
    """
    settings = request.app[SETTINGS]
    config = settings.rate_limit
    if not config.enabled:
        return
    limit = getattr(config, f"{group}_rpm", config.default_rpm)
    subject = "ip:" + client_ip(request, trusted_networks(config))
    decision = await _hit(request.app[LIMITER], f"{group}:{subject}", limit, config)
    if decision is not None:
        request[RATE_DECISION] = decision
        if not decision.allowed:
            raise RateLimited(
                f"Rate limit of {limit} requests per minute exceeded; retry later.",
                headers={"Retry-After": str(max(1, math.ceil(decision.retry_after_s)))},
            )


async def _hit(
    limiter: RateLimiter, key: str, limit: int, config: RateLimitSettings
) -> Decision | None:
    """The limiter's decision; None (let it through) when the limiter fails and fail_open."""
    try:
        return await limiter.hit(key, limit, WINDOW_S)
    except Exception:
        if not config.fail_open:
            raise
        logger.warning("rate limiter unavailable; letting the request through", exc_info=True)
        return None


def stamp_rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Response stamp: X-RateLimit-* on every response that was counted."""
    decision = request.get(RATE_DECISION)
    if decision is None:
        return
    headers = response.headers
    headers["X-RateLimit-Limit"] = str(decision.limit)
    headers["X-RateLimit-Remaining"] = str(decision.remaining)
    headers["X-RateLimit-Reset"] = str(math.ceil(decision.reset_s))


def _tpm(request: web.Request) -> tuple[str, int] | None:
    settings = request.app[SETTINGS]
    if not settings.rate_limit.enabled:
        return None
    principal: Principal | None = request.get(PRINCIPAL)
    tpm = principal.tpm if principal is not None and principal.tpm else settings.rate_limit.tpm
    if tpm is None:
        return None
    subject: str | None = request.get(RATE_SUBJECT)
    if subject is None:
        subject = rate_subject(request, principal, trusted_networks(settings.rate_limit))
    return "tpm:" + subject, tpm


async def check_tokens_per_minute(request: web.Request) -> None:
    """Call before the upstream request: 429 once the caller's tokens this minute reach tpm."""
    found = _tpm(request)
    if found is None:
        return
    key, tpm = found
    used = await request.app[LIMITER].tokens_used(key)
    if used >= tpm:
        raise RateLimited(
            f"Token limit of {tpm} tokens per minute exceeded; retry later.",
            headers={"Retry-After": str(int(WINDOW_S))},
        )


async def record_tokens(request: web.Request, tokens: int) -> None:
    """Call with the usage an upstream reported, once the response is done."""
    found = _tpm(request)
    if found is not None:
        await request.app[LIMITER].add_tokens(found[0], tokens)
