"""Authentication and scopes, by route group; and when auth may be off at all.

Keys arrive as ``Authorization: Bearer KEY`` (OpenAI SDKs) or ``X-API-Key: KEY``
(Anthropic SDKs). The admin key comes from the environment; client keys from
the KeyStore's in-memory index. Public routes and CORS preflights need no key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from aiohttp import hdrs, web

from gateway.endpoints import Check, RouteGroup, RouteInfo
from gateway.errors import AuthenticationFailed, PermissionDenied
from gateway.keys import KEYS
from gateway.keys.principal import ADMIN, ANONYMOUS, PRINCIPAL, Principal
from gateway.limits import charge_failed_auth
from gateway.security.loopback import is_loopback, loopback_host
from gateway.settings import ConfigError, Settings

logger = logging.getLogger("gateway.auth")

SCOPES_BY_GROUP: dict[RouteGroup, frozenset[str]] = {
    "chat": frozenset({"chat", "admin"}),
    "models": frozenset({"chat", "models", "admin"}),
    "admin": frozenset({"admin"}),
    "default": frozenset({"chat", "models", "admin"}),
}


def auth_enabled(settings: Settings) -> bool:
    """Configured explicitly, or else on except in development with no admin key on loopback."""
    if settings.auth.enabled is not None:
        return settings.auth.enabled
    return (
        settings.env != "development"
        or settings.admin_key is not None
        or not is_loopback(settings.server.host)
    )


MIN_PRODUCTION_ADMIN_KEY = 32
MAKE_ADMIN_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def check_auth_config(settings: Settings) -> None:
    """Refuse to serve without auth on an address other machines can reach, or in production
    without a strong admin key."""
    if settings.is_production and auth_enabled(settings):
        admin_key = settings.admin_key.get_secret_value() if settings.admin_key else ""
        if len(admin_key) < MIN_PRODUCTION_ADMIN_KEY:
            problem = f"is {len(admin_key)} characters long" if admin_key else "is not set"
            raise ConfigError(
                [
                    f"GATEWAY_ADMIN_KEY {problem}: production needs one of at least "
                    f"{MIN_PRODUCTION_ADMIN_KEY} characters; make one with {MAKE_ADMIN_KEY}"
                ]
            )
    if auth_enabled(settings) or is_loopback(settings.server.host):
        return
    if not settings.auth.allow_insecure:
        raise ConfigError(
            [
                f"auth.enabled: authentication is off but server.host is "
                f"{settings.server.host}, reachable from other machines; turn auth on, "
                "bind to 127.0.0.1, or set auth.allow_insecure: true"
            ]
        )


def warn_if_auth_off(settings: Settings) -> None:
    if not auth_enabled(settings):
        logger.warning(
            "authentication is OFF: anyone who can reach %s may use every route",
            settings.server.host,
        )


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, if it is one."""
    scheme, _, value = header.partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def presented_key(request: web.Request) -> str | None:
    """The key from ``Authorization: Bearer`` or ``X-API-Key``, if any."""
    header = request.headers.get("Authorization")
    if header:
        return bearer_token(header)
    value = request.headers.get("X-API-Key", "").strip()
    return value or None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def auth_check(settings: Settings) -> Check:
    """The auth step: sets the request's principal, or raises 401/403."""
    enabled = auth_enabled(settings)
    # Without auth on loopback, a DNS-rebinding page could reach us under its own name.
    loopback_only = not enabled and is_loopback(settings.server.host)
    admin_digest = _digest(settings.admin_key.get_secret_value()) if settings.admin_key else None
    metrics_token = settings.metrics.token
    metrics_digest = _digest(metrics_token.get_secret_value()) if metrics_token else None

    def identify(request: web.Request, key: str | None) -> Principal:
        if key is None:
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'."
            )
        if admin_digest is not None and hmac.compare_digest(_digest(key), admin_digest):
            return ADMIN
        principal = request.app[KEYS].authenticate(key)
        if principal is None:
            raise AuthenticationFailed("Invalid API key.")
        if principal.expires_at is not None and time.time() >= principal.expires_at:
            raise AuthenticationFailed("This API key has expired.")
        return principal

    async def auth(request: web.Request, info: RouteInfo | None) -> None:
        if loopback_only and not loopback_host(request.headers.get(hdrs.HOST, "")):
            raise PermissionDenied(
                "Authentication is off, so only loopback host names (localhost, 127.0.0.1, "
                "[::1]) are answered; turn auth on to serve other names.",
                code="host_not_allowed",
            )
        if info is None or info.group == "public" or request.method == "OPTIONS":
            return
        if info.group == "metrics":
            # Only as a bearer token, the one way Prometheus' scrape config sends it.
            if metrics_digest is not None:
                token = bearer_token(request.headers.get("Authorization", ""))
                if token is None or not hmac.compare_digest(_digest(token), metrics_digest):
                    raise AuthenticationFailed(
                        "/metrics needs 'Authorization: Bearer <metrics token>'.",
                        headers={"WWW-Authenticate": "Bearer"},
                    )
            return
        if not enabled:
            request[PRINCIPAL] = ANONYMOUS
            return
        try:
            principal = identify(request, presented_key(request))
        except AuthenticationFailed:
            await charge_failed_auth(request, info.group)
            raise
        needed = SCOPES_BY_GROUP[info.group]
        if principal.scopes.isdisjoint(needed):
            scopes = ", ".join(sorted(needed))
            raise PermissionDenied(f"This API key lacks the scope for this route ({scopes}).")
        request[PRINCIPAL] = principal

    return auth
