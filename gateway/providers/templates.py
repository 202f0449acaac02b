"""Provider templates: one YAML file per kind of upstream, validated when loaded.

The package ships ``gateway/templates/*.yaml``; ``providers.templates_dir`` may
add or override templates. A broken file is logged with its path and field and
skipped, so a bad template never stops the gateway.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.adapters.base import ModelFamily, TemplatePaths
from gateway.fields import HeaderMap, HttpUrl, ProviderId, yaml_problem
from gateway.ledger.pricing import Pricing

logger = logging.getLogger("gateway.providers.templates")

AdapterName = Literal["openai", "anthropic", "gemini"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthStyle(Strict):
    """How the key travels: ``<header>: <scheme> <key>``, or the bare key when scheme is null."""

    header: Annotated[str, Field(pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")] = "Authorization"
    scheme: str | None = "Bearer"

    def header_value(self, key: str) -> str:
        return f"{self.scheme} {key}" if self.scheme else key


Path_ = Annotated[str, Field(pattern=r"^/[^\s?#]*$", max_length=500)]


class Paths(Strict):
    """Paths relative to the base URL; ``{model}``/``{deployment}`` are filled per request."""

    chat: Path_ = "/chat/completions"
    models: Path_ | None = "/models"
    embeddings: Path_ | None = "/embeddings"
    health: Path_ | None = None
    responses: Path_ | None = None
    """The upstream's own Responses API (relayed natively); None: translated through chat."""
    messages: Path_ | None = None
    """The upstream's own Anthropic Messages API (relayed natively); None: translated."""

    def to_target_paths(self) -> TemplatePaths:
        return TemplatePaths(
            chat=self.chat,
            models=self.models,
            embeddings=self.embeddings,
            health=self.health,
            responses=self.responses,
            messages=self.messages,
        )


class Family(Strict):
    """Model-family capabilities that change how an adapter translates a request."""

    prefixes: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    structured_output: bool = False
    reasoning: Literal["budget", "level"] | None = None
    efforts: dict[Literal["none", "minimal", "low", "medium", "high", "xhigh"], int | str] = Field(
        default_factory=dict
    )

    def to_family(self) -> ModelFamily:
        return ModelFamily(
            tuple(self.prefixes),
            self.structured_output,
            self.reasoning,
            {str(effort): value for effort, value in self.efforts.items()},
        )


class Template(Strict):
    id: ProviderId
    name: Annotated[str, Field(min_length=1, max_length=100)]
    adapter: AdapterName
    base_url: HttpUrl | None = None
    """None: the operator must give one (Azure's per-resource endpoint)."""
    auth: AuthStyle = AuthStyle()
    headers: HeaderMap = Field(default_factory=dict)
    paths: Paths = Paths()
    query: dict[str, str] = Field(default_factory=dict)
    key_required: bool = True
    docs_url: HttpUrl | None = None
    models: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list)
    description: str | None = None
    families: list[Family] = Field(default_factory=list)
    """Checked in order; a model belongs to the first family with a prefix of its name."""
    pricing: Pricing = Field(default_factory=dict)
    """Model name or glob -> USD per million tokens (see gateway.ledger.pricing)."""

    @field_validator("query")
    @classmethod
    def _query_is_plain(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not key or any(ch in key + item for ch in "\r\n\0&#"):
                raise ValueError(f"query parameter {key!r} holds a forbidden character")
        return value


Templates = dict[str, Template]
TEMPLATES = web.AppKey("templates", Templates)


def _field_of(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "(root)"


def parse_template(path: Path | str, text: str) -> Template:
    """Validate one template file; ValueError naming the path and field when broken."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a mapping")
    try:
        return Template.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ValueError(f"{path}: {_field_of(exc)}: {problems}") from None


def _builtin_files() -> list[tuple[str, str]]:
    folder = resources.files("gateway") / "templates"
    return sorted(
        (f"gateway/templates/{item.name}", item.read_text(encoding="utf-8"))
        for item in folder.iterdir()
        if item.name.endswith(".yaml")
    )


def _folder_files(folder: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            out.append((str(path), path.read_text(encoding="utf-8")))
        except OSError as exc:
            logger.error("template %s cannot be read (%s); skipped", path, exc.strerror)
    return out


def load_templates(extra_dir: Path | None = None) -> Templates:
    """Built-in templates, then ``extra_dir``'s (same id replaces); broken files are skipped."""
    files = _builtin_files()
    if extra_dir is not None:
        if extra_dir.is_dir():
            files += _folder_files(extra_dir)
        else:
            logger.warning("templates_dir %s is not a folder; only built-in templates", extra_dir)
    templates: Templates = {}
    for path, text in files:
        try:
            template = parse_template(path, text)
        except ValueError as exc:
            logger.error("broken template skipped: %s", exc)
            continue
        templates[template.id] = template
    return dict(sorted(templates.items()))
