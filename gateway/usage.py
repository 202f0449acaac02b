"""Where token usage goes once a request is over: metrics and tpm limits plug in.

Hooks are plain functions called once per served request, also when the client
went away mid-stream; they must not block (schedule async work themselves).
The proxy also keeps a request's RequestFacts (attempts, provider, time to
first token, usage) on the request, for the ledger's entry once the answer is over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from gateway.adapters.base import StreamUsage

UsageHook = Callable[[web.Request, str, str, StreamUsage], None]
"""hook(request, provider_id, model as the provider knows it, usage)."""

USAGE_HOOKS = web.AppKey("usage_hooks", list[UsageHook])


@dataclass(slots=True)
class RequestFacts:
    """What the proxy learnt about one request's upstream calls (plain fields: hot path)."""

    attempts: int = 0
    provider: str | None = None
    """The provider of the last attempt (the one that answered, if any)."""
    model: str | None = None
    """The model as routed (the provider's name for it)."""
    streamed: bool = False
    ttft: float | None = None
    """Seconds from sending the answering request to its first chunk (streams only)."""
    usage: StreamUsage | None = None


FACTS = web.RequestKey("usage_facts", RequestFacts)


def combined(seen: Sequence[StreamUsage]) -> StreamUsage:
    """One usage from what an adapter reported; counts are cumulative, so take the largest."""
    if len(seen) == 1:
        return seen[0]
    return StreamUsage(
        prompt_tokens=max((u.prompt_tokens for u in seen), default=0),
        completion_tokens=max((u.completion_tokens for u in seen), default=0),
        cached_tokens=max((u.cached_tokens for u in seen), default=0),
        reasoning_tokens=max((u.reasoning_tokens for u in seen), default=0),
        cache_write_tokens=max((u.cache_write_tokens for u in seen), default=0),
    )


def on_usage(request: web.Request, provider_id: str, model: str, usage: StreamUsage) -> None:
    """The single call site for recorded usage."""
    for hook in request.app[USAGE_HOOKS]:
        hook(request, provider_id, model, usage)
