"""Who is limited by what: requests per minute by route group and caller, tokens per minute.

The one place that says which limit applies to whom: a key's own ``rpm``/``tpm``
over the group's setting; a caller without a key is counted by client address.
Every request is counted before its handler runs (the middleware calls
``admit``), a request whose key was refused included (``charge_failed_auth``),
so failed requests cost the client as much as good ones. Over a limit, the
answer is 429 at once, never a queue.
"""

from __future__ import annotations

import ipaddress
import logging
import math

from aiohttp import web

from gateway.endpoints import RouteGroup
from gateway.errors import RateLimited
from gateway.keys.principal import PRINCIPAL, Principal
from gateway.limits.base import LIMITER, Decision
from gateway.settings import RateLimitSettings

logger = logging.getLogger("gateway.rate_limit")

WINDOW_S = 60.0
RATE_DECISION = web.RequestKey("rate_decision", Decision)
"""The decision on this request, for the X-RateLimit-* headers."""
RATE_SUBJECT = web.RequestKey("rate_subject", str)
"""Whom the limits count: a key id, or ``ip:ADDRESS`` when the caller has no key."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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


class RatePolicy:
    """The limits of ``rate_limit`` settings, built once per application."""

    __slots__ = ("_rpm", "_tpm", "enabled", "fail_open", "trusted")

    def __init__(self, config: RateLimitSettings) -> None:
        self.enabled = config.enabled
        self.fail_open = config.fail_open
        self.trusted = trusted_networks(config)
        # Public and metrics routes are never counted; nothing is when limits are off.
        self._rpm: dict[RouteGroup, int] = (
            {
                "chat": config.chat_rpm,
                "models": config.models_rpm,
                "admin": config.admin_rpm,
                "default": config.default_rpm,
            }
            if config.enabled
            else {}
        )
        self._tpm = config.tpm

    def rpm(self, group: RouteGroup, principal: Principal | None) -> int | None:
        """Requests per minute for this caller on this group; None: not counted."""
        limit = self._rpm.get(group)
        if limit is not None and principal is not None and principal.rpm:
            return principal.rpm
        return limit

    def tpm(self, principal: Principal | None) -> int | None:
        """Tokens per minute for this caller; None: no token limit applies."""
        if not self.enabled:
            return None
        if principal is not None and principal.tpm:
            return principal.tpm
        return self._tpm

    def subject(self, request: web.Request, principal: Principal | None) -> str:
        if principal is not None and principal.key_id is not None:
            return principal.key_id
        return "ip:" + client_ip(request, self.trusted)


RATE_POLICY = web.AppKey("rate_policy", RatePolicy)


async def admit(request: web.Request, group: RouteGroup, principal: Principal | None) -> None:
    """Count the request against its group's limit for its caller; 429 when over."""
    policy = request.app[RATE_POLICY]
    limit = policy.rpm(group, principal)
    if limit is None:
        return
    subject = policy.subject(request, principal)
    request[RATE_SUBJECT] = subject
    try:
        decision = await request.app[LIMITER].hit(f"{group}:{subject}", limit, WINDOW_S)
    except Exception:
        if not policy.fail_open:
            raise
        logger.warning("rate limiter unavailable; letting the request through", exc_info=True)
        return
    request[RATE_DECISION] = decision
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit of {limit} requests per minute exceeded; retry later.",
            headers={"Retry-After": str(max(1, math.ceil(decision.retry_after_s)))},
        )


async def charge_failed_auth(request: web.Request, group: RouteGroup) -> None:
    """Count a request whose key was refused against its client address; 429 when over.

    So guessing keys costs as much as any other request.
    """
    await admit(request, group, None)


def _tpm(request: web.Request) -> tuple[str, int] | None:
    """The caller's token-minute key and limit, or None when no token limit applies."""
    policy = request.app[RATE_POLICY]
    principal = request.get(PRINCIPAL)
    tpm = policy.tpm(principal)
    if tpm is None:
        return None
    subject = request.get(RATE_SUBJECT)
    if subject is None:
        subject = policy.subject(request, principal)
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
