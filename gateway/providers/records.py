"""The provider record: request bodies, the stored document and the public view.

The API key is write-only: bodies may carry it, the stored document holds only
its Fernet token, and every answer shows ``has_api_key`` and ``api_key_hint``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    ValidationError,
)

from gateway.egress import parse_proxy
from gateway.errors import InvalidRequest
from gateway.fields import (
    HEADER_VALUE,
    HOST_PORT,
    MODEL_NAMES_SCHEMA,
    WHOLE,
    DisplayName,
    HeaderMap,
    HttpUrl,
    ModelName,
    ProviderId,
    check_header_safe,
    slugify,
)
from gateway.ledger.pricing import Pricing
from gateway.providers.templates import Templates

Source = Literal["api", "file"]


def _proxy_override(value: str) -> str:
    """A provider's own proxy: ``""`` (none) or ``http://host:port`` without credentials."""
    if value:
        proxy = parse_proxy(value)
        if proxy.authorization is not None:
            raise ValueError(
                "a provider's proxy carries no credentials (they would be stored in the"
                " clear); set them in upstream.https_proxy / HTTPS_PROXY instead"
            )
    return value


PROXY_URL = rf"^(([hH][tT][tT][pP]://)?{HOST_PORT}/?)?$"
ProxyOverride = Annotated[
    str,
    Field(max_length=2048, json_schema_extra={"pattern": PROXY_URL}),
    AfterValidator(_proxy_override),
]
ApiKey = Annotated[
    SecretStr,
    Field(min_length=1, max_length=4096, json_schema_extra={"pattern": HEADER_VALUE}),
    AfterValidator(lambda key: SecretStr(check_header_safe(key.get_secret_value()))),
]


class ProviderFields(BaseModel):
    """What an operator sets, over the API or in a providers.d file."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: ProviderId | None = Field(
        None,
        description="Derived from the name when omitted: its letters, digits, _ and -, or "
        "provider-<8 hex digits of the name's SHA-256> when it has none.",
    )
    name: DisplayName
    template: Annotated[str, Field(min_length=1, max_length=100)]
    base_url: HttpUrl | None = Field(None, description="The template's when omitted.")
    headers: HeaderMap = Field(default_factory=dict, description="Extra upstream headers.")
    models: list[ModelName] = Field(
        default_factory=list, description="Allow-list; empty means whatever the upstream lists."
    )
    aliases: dict[ModelName, ModelName] = Field(
        default_factory=dict,
        description="alias -> upstream model name",
        json_schema_extra=MODEL_NAMES_SCHEMA,
    )
    default_model: ModelName | None = None
    enabled: bool = True
    priority: Annotated[int, Strict(), Field(ge=-1_000_000, le=1_000_000), WHOLE] = 0
    weight: Annotated[int, Strict(), Field(ge=1, le=1_000_000), WHOLE] = 1
    timeout_s: Annotated[float, Field(ge=1, le=600)] = 60.0
    health_checks: bool = Field(True, description="False turns active health probes off.")
    proxy: ProxyOverride | None = Field(
        None,
        description='http://host:port for this provider\'s calls; "" for none; unset: the'
        " gateway's proxy settings.",
    )
    pricing: Pricing = Field(
        default_factory=dict,
        description="Model name or glob -> USD per million tokens; before the template's.",
    )


class ProviderBody(ProviderFields):
    """POST/PUT/PATCH body: the fields plus the write-only key (null removes it on update)."""

    api_key: ApiKey | None = Field(None, description="Write-only; never returned.")


class ProviderRecord(BaseModel):
    """One provider as stored (source "api") or loaded from providers.d (source "file")."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    template: str
    base_url: str
    headers: dict[str, str] = Field(default_factory=dict)
    models: list[str] = Field(default_factory=list)
    aliases: dict[str, str] = Field(default_factory=dict)
    default_model: str | None = None
    enabled: bool = True
    priority: int = 0
    weight: int = 1
    timeout_s: float = 60.0
    health_checks: bool = True
    proxy: str | None = None
    pricing: Pricing = Field(default_factory=dict)
    created_at: int
    updated_at: int
    source: Source = "api"
    file: str | None = None
    """The providers.d file a "file" provider comes from."""
    has_api_key: bool = False
    api_key_hint: str | None = None
    api_key_encrypted: str | None = None
    """The Fernet token; never leaves the server."""

    def public(self) -> dict[str, Any]:
        """The view every response uses: no key material beyond the hint, secret headers masked."""
        view = self.model_dump(mode="json", exclude={"api_key_encrypted"})
        view["headers"] = {
            name: MASKED if is_secret_header(name) else value
            for name, value in self.headers.items()
        }
        return view

    def writable(self) -> dict[str, Any]:
        """The operator-set fields, as a body would carry them."""
        return self.model_dump(include=set(ProviderFields.model_fields))


MASKED = "***"
"""How a secret header value is shown; sent back in an update, it keeps the stored value."""
SEALED = "enc:"
"""Prefix of a stored secret header value: the rest is its Fernet token."""
_SECRET_WORDS = ("auth", "key", "token", "secret", "password", "signature", "cookie", "credential")


def is_secret_header(name: str) -> bool:
    """Headers whose name says they carry a credential are stored encrypted and shown masked."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def key_hint(key: str) -> str:
    """``sk-…wxyz``: the last 4 characters from 12 characters on, a prefix only for long keys."""
    if len(key) < 12:
        return "…"
    prefix = key[:3] if len(key) >= 20 else ""
    return f"{prefix}…{key[-4:]}"


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(body)"


def invalid_body(exc: ValidationError) -> InvalidRequest:
    """One 400 naming the first invalid field and listing every problem."""
    errors = exc.errors()
    unknown = [_loc(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
    problems = [f"{_loc(e['loc'])}: {e['msg']}" for e in errors if e["type"] != "extra_forbidden"]
    if unknown:
        problems.insert(0, f"unknown field(s): {', '.join(unknown)}")
        param = unknown[0]
    else:
        param = _loc(errors[0]["loc"])
    return InvalidRequest(
        "Invalid provider: " + "; ".join(problems) + ".", param=param, code="invalid_provider"
    )


def parse_body(data: Mapping[str, Any], model: type[ProviderBody] = ProviderBody) -> ProviderBody:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_body(exc) from None


def resolve(
    body: ProviderFields,
    templates: Templates,
    *,
    now: int,
    source: Source = "api",
    created_at: int | None = None,
    file: str | None = None,
    has_key: bool = False,
    hint: str | None = None,
    encrypted: str | None = None,
) -> ProviderRecord:
    """Fill the defaults a template supplies and check what needs the template to check."""
    template = templates.get(body.template)
    if template is None:
        raise InvalidRequest(
            f"Unknown template {body.template!r}; see GET /api/v1/templates.",
            param="template",
            code="unknown_template",
        )
    provider_id = body.id or slugify(body.name) or unnamed_id(body.name)
    base_url = body.base_url or template.base_url
    if base_url is None:
        raise InvalidRequest(
            f"Template {template.id!r} has no default base_url; give one.",
            param="base_url",
            code="invalid_provider",
        )
    if template.key_required and not has_key:
        raise InvalidRequest(
            f"Template {template.id!r} requires an api_key.",
            param="api_key",
            code="invalid_provider",
        )
    values = body.model_dump(exclude={"id", "base_url"})
    return ProviderRecord(
        **values,
        id=provider_id,
        base_url=base_url,
        created_at=created_at if created_at is not None else now,
        updated_at=now,
        source=source,
        file=file,
        has_api_key=has_key,
        api_key_hint=hint,
        api_key_encrypted=encrypted,
    )


def unnamed_id(name: str) -> str:
    """The id of a provider whose name has no letter or digit to derive one from."""
    return "provider-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def provider_schema() -> dict[str, Any]:
    """The JSON schema of a response body (for OpenAPI)."""
    schema = ProviderRecord.model_json_schema()
    schema["properties"].pop("api_key_encrypted", None)
    return schema
