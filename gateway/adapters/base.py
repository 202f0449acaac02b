"""The adapter interface: translate a request, parse a response, parse stream events.

An adapter is stateless; everything provider-specific arrives in a Target that
is built once when the provider loads (URL, auth and fixed headers, paths), so
the hot path does no per-request assembly beyond the body.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TemplatePaths:
    """Paths relative to the base URL; may hold {model} and {deployment}."""

    chat: str = "/chat/completions"
    models: str | None = "/models"
    embeddings: str | None = "/embeddings"
    health: str | None = None
    """None: probe with the models list."""
    responses: str | None = None
    """Where the upstream serves OpenAI's Responses API itself; None: translate through chat."""
    messages: str | None = None
    """Where the upstream serves Anthropic's Messages API itself; None: translate through chat."""


@dataclass(frozen=True, slots=True)
class ModelFamily:
    """What one family of a provider's models supports, from its template's ``families``.

    A model belongs to the first family with a prefix of its name. ``reasoning``
    says how ``reasoning_effort`` is told upstream ("budget": a token budget,
    "level": a named level); ``efforts`` maps each OpenAI effort to that value.
    """

    prefixes: tuple[str, ...]
    structured_output: bool = False
    """The upstream can constrain its answer to a JSON schema by itself."""
    reasoning: str | None = None
    efforts: Mapping[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Target:
    """What an adapter needs to know about one provider, precomputed at load time."""

    provider_id: str
    base_url: str
    """Without a trailing slash."""
    headers: Mapping[str, str]
    """Auth, the template's fixed headers and the provider's extra headers, merged."""
    paths: TemplatePaths = TemplatePaths()
    query: Mapping[str, str] = field(default_factory=dict)
    """Added to every upstream URL (Azure's api-version)."""
    families: tuple[ModelFamily, ...] = ()
    json_headers: Mapping[str, str] = field(init=False, repr=False, compare=False)
    """``headers`` plus ``Content-Type: application/json``, built once for request bodies."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "json_headers", {**self.headers, "Content-Type": "application/json"}
        )

    def family(self, model: str) -> ModelFamily | None:
        """The family ``model`` belongs to (None: the template says nothing about it)."""
        name = model.removeprefix("models/")
        for family in self.families:
            if name.startswith(family.prefixes):
                return family
        return None

    def url(self, path: str, model: str = "") -> str:
        """Absolute URL for a template path, with {model}/{deployment} filled in."""
        if "{" in path:
            path = path.replace("{model}", model).replace("{deployment}", model)
        return self.base_url + path


@dataclass(slots=True)  # not frozen: made per request; a frozen __init__ costs 2x
class UpstreamRequest:
    """One HTTP request for the upstream client to send."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    adjusted: tuple[str, ...] = ()
    """Request fields the adapter changed to fit the upstream (X-Gateway-Adjusted)."""


@dataclass(frozen=True, slots=True)
class ModelPage:
    """One page of an upstream's model list."""

    ids: list[str]
    next_cursor: str | None = None


@dataclass(slots=True)  # not frozen: made per request; a frozen __init__ costs 2x
class StreamUsage:
    """Token counts seen in a stream so far (for metrics and tpm limits)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Of ``prompt_tokens``, those read from the provider's prompt cache."""
    reasoning_tokens: int = 0
    """Of ``completion_tokens``, those spent on reasoning (thinking)."""
    cache_write_tokens: int = 0
    """Of ``prompt_tokens``, those written to the provider's prompt cache (Anthropic)."""

    @classmethod
    def from_openai(cls, counts: JSON) -> StreamUsage:
        """Read an OpenAI ``usage`` object, its token details included; junk counts as 0."""
        prompt_details = counts.get("prompt_tokens_details")
        completion_details = counts.get("completion_tokens_details")
        return cls(
            token_count(counts.get("prompt_tokens")),
            token_count(counts.get("completion_tokens")),
            token_count(prompt_details.get("cached_tokens"))
            if isinstance(prompt_details, dict)
            else 0,
            token_count(completion_details.get("reasoning_tokens"))
            if isinstance(completion_details, dict)
            else 0,
            token_count(prompt_details.get("cache_write_tokens"))
            if isinstance(prompt_details, dict)
            else 0,
        )

    def to_openai(self) -> JSON:
        """OpenAI's ``usage`` object: totals with the cached and reasoning details."""
        prompt_details: JSON = {"cached_tokens": self.cached_tokens}
        if self.cache_write_tokens:
            prompt_details["cache_write_tokens"] = self.cache_write_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": prompt_details,
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


def token_count(value: object) -> int:
    """A token count from upstream JSON: a positive int, else 0 (never a bool or junk)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class Adapter(Protocol):
    """One wire format. Implementations live in adapters/<name>.py."""

    name: str
    supports_embeddings: bool

    def build_chat(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str, stream: bool
    ) -> UpstreamRequest:
        """Translate an OpenAI chat body; ``raw`` is the client's bytes, for pass-through."""

    def parse_chat(self, payload: bytes, model: str) -> JSON:
        """An upstream success body -> OpenAI chat.completion; UpstreamError when malformed."""

    def parse_error(self, status: int, payload: bytes) -> str:
        """The human message inside an upstream error body (never echoes request headers)."""

    def stream_chat(
        self,
        events: AsyncIterator[bytes],
        model: str,
        include_usage: bool,
        usage: list[StreamUsage],
    ) -> AsyncGenerator[bytes, None]:
        """Upstream SSE ``data`` payloads -> OpenAI SSE bytes (``data: {...}\\n\\n``).

        Appends the usage it sees to ``usage`` (each item a running total: the
        last one is the best count) so the caller can record it even when the
        client goes away mid-stream. A malformed event raises UpstreamError; an
        upstream ``error`` event becomes an OpenAI ``data: {"error": ...}`` event
        and ends the stream. Does not emit ``data: [DONE]``; the caller does.
        """

    def build_models(self, target: Target, cursor: str | None) -> UpstreamRequest: ...

    def parse_models(self, payload: bytes) -> ModelPage: ...

    def build_embeddings(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str
    ) -> UpstreamRequest: ...

    def parse_embeddings(self, payload: bytes, model: str, body: JSON) -> JSON:
        """An upstream embeddings answer -> OpenAI's list; ``body`` is the client's request."""
