"""The one typed settings model, built once at start-up and passed down.

Sources, lowest to highest: built-in defaults, ``config/gateway.yaml``,
``config/gateway.<env>.yaml``, ``.env``, then ``GATEWAY_<SECTION>__<KEY>``
environment variables. Secrets come only from the environment or ``.env``.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.egress import masked_proxy_url, parse_proxy

Environment = Literal["development", "production", "test"]

logger = logging.getLogger("gateway.settings")

ENV_PREFIX = "GATEWAY_"
SECRET_FIELDS = ("admin_key", "secret_key")
RENAMED: dict[tuple[str, str], tuple[str, str]] = {
    ("upstream", "keepalive_interval_s"): ("server", "sse_comment_interval_s"),
}
"""Old (section, key) -> new: the old name still works, with a warning logged once."""
PRODUCTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "logging": {"format": "json"},
    "server": {"hsts": True},
    "auth": {"enabled": True},
    "security": {"allow_private_upstreams": False},
}
"""Built in, so production is safe without any configuration file (files and the
environment may still set these keys)."""
MiB = 1024 * 1024


class Section(BaseModel):
    """A configuration section: unknown keys are typos, so they are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    """0: any free port (the log says which); not with workers > 1."""
    workers: int = Field(1, ge=1, le=64)
    shutdown_timeout: float = Field(30.0, gt=0, le=3600)
    hsts: bool = False
    reuse_port: bool = False
    runtime_dir: Path | None = None
    """Writable folder for --workers' shared metrics; None: storage.path."""
    request_timeout_s: float = Field(30.0, gt=0, le=3600)
    """From a request's first byte until its head and body are in; slower clients are cut."""
    keepalive_timeout_s: float = Field(75.0, gt=0, le=3600)
    """An idle connection (before its first request or between requests) is closed after this."""
    max_connections_per_client: int = Field(256, ge=1, le=1_000_000)
    """Open connections per client address (rate_limit.trusted_proxies are exempt)."""
    sse_comment_interval_s: float = Field(15.0, gt=0, le=600)
    """Between ``: keep-alive`` comments to a streaming client while its provider is silent."""


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    access_log: bool = True


class StorageSettings(Section):
    backend: Literal["file", "redis"] = "file"
    path: Path = Path("data")
    redis_url: SecretStr | None = None
    redis_timeout_s: float = Field(1.0, gt=0, le=60)

    @model_validator(mode="after")
    def _redis_needs_url(self) -> StorageSettings:
        if self.backend == "redis" and self.redis_url is None:
            raise ValueError("backend redis needs storage.redis_url (GATEWAY_STORAGE__REDIS_URL)")
        return self


class ProvidersSettings(Section):
    dir: Path = Path("providers.d")
    templates_dir: Path | None = None
    watch_interval_s: float = Field(1.0, gt=0, le=60)


class UpstreamSettings(Section):
    pool_size: int = Field(512, ge=1, le=100_000)
    pool_size_per_host: int = Field(0, ge=0, le=100_000)
    connect_timeout_s: float = Field(10.0, gt=0, le=600)
    first_byte_timeout_s: float = Field(120.0, gt=0, le=3600)
    total_timeout_s: float = Field(600.0, gt=0, le=3600)
    idle_timeout_s: float = Field(120.0, gt=0, le=3600)
    max_event_bytes: int = Field(32 * MiB, ge=1024)
    """Largest single SSE line or event a stream may carry; a larger one ends it with 502."""
    idle_connection_s: float = Field(4.0, gt=0, le=3600)
    """How long an idle upstream connection is kept: under common servers' 5 s."""
    max_stream_s: float = Field(1800.0, gt=0, le=86_400)
    """A stream's whole duration; a provider's ``timeout_s`` bounds only its first byte."""
    max_body_bytes: int = Field(64 * MiB, ge=1024)
    """The largest non-streaming answer read from an upstream (502 beyond)."""
    happy_eyeballs_delay_s: float = Field(0.25, gt=0, le=10)
    """Before trying a host's next address while the previous one has not connected."""
    trust_env: bool = True
    """Read HTTP_PROXY, HTTPS_PROXY and NO_PROXY (either case) when the fields below are unset."""
    http_proxy: str | None = None
    https_proxy: str | None = None
    no_proxy: str | None = None

    @field_validator("http_proxy", "https_proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value:
            parse_proxy(value)
        return value or None


class RoutingSettings(Section):
    max_attempts: int = Field(2, ge=1, le=10)
    default_provider: str | None = None
    aliases: dict[str, str] = Field(default_factory=dict)


class CatalogSettings(Section):
    ttl_s: float = Field(600.0, gt=0, le=86_400)
    timeout_s: float = Field(10.0, gt=0, le=600)
    """Per upstream models-list call."""
    prefetch: bool = True
    """Fetch every enabled provider's models at start and after changes (routes bare names)."""


class HealthSettings(Section):
    enabled: bool = True
    interval_s: float = Field(30.0, gt=0, le=86_400)
    timeout_s: float = Field(5.0, gt=0, le=600)
    concurrency: int = Field(4, ge=1, le=256)
    unhealthy_after: int = Field(3, ge=1, le=100)
    degraded_latency_ms: float = Field(2000.0, gt=0)
    breaker_failures: int = Field(5, ge=1, le=1000)
    breaker_cooldown_s: float = Field(30.0, gt=0, le=86_400)
    window_s: float = Field(60.0, gt=0, le=86_400)
    min_requests: int = Field(10, ge=1)
    error_ratio: float = Field(0.5, gt=0, le=1)


class MetricsSettings(Section):
    enabled: bool = True
    token: SecretStr | None = None
    multiprocess_dir: Path | None = None
    """Set by the supervisor for its workers (with PROMETHEUS_MULTIPROC_DIR); not by hand."""


class AuthSettings(Section):
    enabled: bool | None = None
    """None: on, except in development with no admin key on a loopback bind."""
    allow_insecure: bool = False


class RateLimitSettings(Section):
    enabled: bool = True
    chat_rpm: int = Field(600, ge=1)
    models_rpm: int = Field(600, ge=1)
    admin_rpm: int = Field(300, ge=1)
    default_rpm: int = Field(1200, ge=1)
    tpm: int | None = Field(None, ge=1)
    trusted_proxies: list[str] = Field(default_factory=list)
    fail_open: bool = True


class CorsSettings(Section):
    origins: list[str] | None = None
    """None: the web UI's development origin and the gateway's own (see allowed_origins);
    in production, no origin."""
    max_age_s: int = Field(600, ge=0, le=86_400)


class BodyLimitSettings(Section):
    chat_bytes: int = Field(20 * MiB, ge=1024)
    admin_bytes: int = Field(64 * 1024, ge=1024)
    default_bytes: int = Field(1 * MiB, ge=1024)


class SecuritySettings(Section):
    allow_private_upstreams: bool | None = None
    """None: allowed in development and test, refused in production."""
    max_json_depth: int = Field(64, ge=2, le=1000)
    max_json_containers: int = Field(100_000, ge=16)
    """Objects and arrays in one body: bounds the parse and the walk (a long agent
    conversation has a few per message)."""
    max_json_items: int = Field(1_000_000, ge=16)
    """Array elements and object members in one body (token-id arrays count one per token)."""
    max_string_length: int = Field(20 * MiB, ge=1024)
    """As large as a chat body may be: one base64 image can be most of it."""


class ResponsesSettings(Section):
    """Stored responses of the Responses API (GET /v1/responses/{id}, previous_response_id)."""

    store: bool = True
    """False: nothing is stored, and previous_response_id is refused for translated providers."""
    retention_s: float = Field(7 * 86_400, gt=0, le=366 * 86_400)


class UsageSettings(Section):
    """The usage ledger (gateway.ledger): what is kept, how often it is written, where it goes."""

    enabled: bool = True
    flush_interval_s: float = Field(2.0, gt=0, le=300)
    """File backend: counted in memory, written this often (a crash loses at most this)."""
    log_entries: int = Field(10_000, ge=0, le=1_000_000)
    """The request log keeps this many newest entries (a capped stream with Redis)."""
    log_path: str | None = None
    """Also write every entry as a JSON line to this file, or ``-`` for stdout."""
    log_max_bytes: int = Field(100 * MiB, ge=1024)
    """The JSON-lines file is rotated (``.1``, ``.2``, ...) when it would grow past this."""
    log_backups: int = Field(5, ge=0, le=1000)

    @field_validator("log_path")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value else None


class Settings(BaseSettings):
    """Everything the gateway is told, validated once."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        # .env may hold other programs' variables; YAML keys are checked in _read_yaml.
        extra="ignore",
        frozen=True,
    )

    env: Environment = "development"
    admin_key: SecretStr | None = None
    secret_key: SecretStr | None = None

    server: ServerSettings = ServerSettings()
    logging: LoggingSettings = LoggingSettings()
    storage: StorageSettings = StorageSettings()
    providers: ProvidersSettings = ProvidersSettings()
    upstream: UpstreamSettings = UpstreamSettings()
    routing: RoutingSettings = RoutingSettings()
    catalog: CatalogSettings = CatalogSettings()
    health: HealthSettings = HealthSettings()
    metrics: MetricsSettings = MetricsSettings()
    auth: AuthSettings = AuthSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    cors: CorsSettings = CorsSettings()
    body_limits: BodyLimitSettings = BodyLimitSettings()
    security: SecuritySettings = SecuritySettings()
    responses: ResponsesSettings = ResponsesSettings()
    usage: UsageSettings = UsageSettings()

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        """Old names in files or the environment move to their new place (a set new one wins)."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for (section, key), (new_section, new_key) in RENAMED.items():
            given = merged.get(section)
            if not isinstance(given, Mapping) or key not in given:
                continue
            _warn_renamed(f"{section}.{key}", f"{new_section}.{new_key}")
            merged[section] = {k: v for k, v in given.items() if k != key}
            target = merged.get(new_section)
            target = dict(target) if isinstance(target, Mapping) else {}
            target.setdefault(new_key, given[key])
            merged[new_section] = target
        return merged

    @model_validator(mode="before")
    @classmethod
    def _production_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("env") != "production":
            return data
        merged = dict(data)
        for section, defaults in PRODUCTION_DEFAULTS.items():
            given = merged.get(section)
            if given is None:
                merged[section] = dict(defaults)
            elif isinstance(given, Mapping):
                merged[section] = {**defaults, **given}
        return merged

    @field_validator("admin_key", "secret_key")
    @classmethod
    def _not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @model_validator(mode="after")
    def _shared_master_key(self) -> Settings:
        # Instances sharing a Redis store must decrypt each other's provider keys.
        if self.storage.backend == "redis" and self.secret_key is None:
            raise ValueError(
                "storage.backend redis needs GATEWAY_SECRET_KEY: every instance must share "
                "the master key that encrypts provider keys"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def allowed_origins(self) -> list[str]:
        """Configured CORS origins; else none in production, the web UI's dev server and the
        gateway's own origin elsewhere."""
        if self.cors.origins is not None:
            return self.cors.origins
        if self.is_production:
            return []
        port = self.server.port
        return ["http://localhost:5173", f"http://127.0.0.1:{port}", f"http://localhost:{port}"]

    @property
    def private_upstreams_allowed(self) -> bool:
        if self.security.allow_private_upstreams is not None:
            return self.security.allow_private_upstreams
        return not self.is_production

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # YAML layers arrive through init_settings (see load_settings); the
        # environment outranks .env, which outranks the YAML files.
        return (env_settings, dotenv_settings, init_settings)


class ConfigError(Exception):
    """Configuration that cannot start a gateway: one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@functools.cache
def _warn_renamed(old: str, new: str) -> None:
    """Once per process and name, however many times settings are built."""
    logger.warning("setting %s is deprecated: it is now %s (same meaning)", old, new)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read: {exc.strerror}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping"])
    unknown = sorted(str(key) for key in data if key not in Settings.model_fields)
    if unknown:
        raise ConfigError([f"{path}: {key}: unknown section" for key in unknown])
    for name in SECRET_FIELDS:
        if name in data:
            raise ConfigError(
                [
                    f"{path}: {name}: secrets come only from the environment or .env "
                    f"({ENV_PREFIX}{name.upper()}), never from YAML"
                ]
            )
    return data


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _mask(loc: tuple[int | str, ...], value: Any) -> str:
    secret_parts = ("token", "redis_url", "http_proxy", "https_proxy")
    if any(str(part) in SECRET_FIELDS or str(part) in secret_parts for part in loc):
        return "'***'"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _problems(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        path = ".".join(str(part) for part in err["loc"]) or "(root)"
        lines.append(f"{path}: {_mask(err['loc'], err.get('input'))}: {err['msg']}")
    return lines


def load_settings(
    config_path: Path | None = None,
    *,
    dotenv_path: Path | None = Path(".env"),
) -> Settings:
    """Build the settings from every source; raise ConfigError listing each problem.

    This and the CLI are the only places that read the process environment.
    """
    env_vars = os.environ
    dotenv: dict[str, str | None] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        dotenv = dotenv_values(dotenv_path)
    env_name = env_vars.get(f"{ENV_PREFIX}ENV") or dotenv.get(f"{ENV_PREFIX}ENV") or "development"

    base_path = config_path if config_path is not None else Path("config/gateway.yaml")
    layers: dict[str, Any] = {}
    if base_path.is_file():
        layers = _read_yaml(base_path)
    elif config_path is not None:
        raise ConfigError([f"{config_path}: no such configuration file"])
    overlay = base_path.with_name(f"gateway.{env_name}.yaml")
    if overlay.is_file():
        layers = _deep_merge(layers, _read_yaml(overlay))
    try:
        return _with_proxy_environment(Settings(_env_file=dotenv_path, **layers), env_vars)
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None


PROXY_FIELDS = ("http_proxy", "https_proxy", "no_proxy")


def _with_proxy_environment(settings: Settings, env_vars: Mapping[str, str]) -> Settings:
    """With ``upstream.trust_env``: unset proxy fields from HTTP(S)_PROXY/NO_PROXY (as curl,
    lower case first)."""
    upstream = settings.upstream
    if not upstream.trust_env:
        return settings
    found = {
        name: value
        for name in PROXY_FIELDS
        if getattr(upstream, name) is None
        and (value := env_vars.get(name) or env_vars.get(name.upper()))
    }
    if not found:
        return settings
    try:
        merged = UpstreamSettings(**{**upstream.model_dump(), **found})
    except ValidationError as exc:
        names = ", ".join(sorted(name.upper() for name in found))
        raise ConfigError(
            [f"{names} (environment): {err['msg']}" for err in exc.errors()]
        ) from None
    return settings.model_copy(update={"upstream": merged})


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective configuration, safe to print: secrets replaced by '***'."""
    data = settings.model_dump(mode="json")
    for name in ("http_proxy", "https_proxy"):
        data["upstream"][name] = masked_proxy_url(data["upstream"][name])
    for name in SECRET_FIELDS:
        data[name] = "***" if data.get(name) else None
    if data["storage"].get("redis_url"):
        data["storage"]["redis_url"] = "***"
    if data["metrics"].get("token"):
        data["metrics"]["token"] = "***"
    return data
