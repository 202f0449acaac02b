"""Tool-use ids that carry a Gemini thought signature through Anthropic clients and back.

Gemini 3 refuses a conversation whose function calls come back without the
thought signature it attached (the gemini adapter carries it as
``extra_content.google.thought_signature``). A tool_use block has no field
for it, but clients echo its ``id`` untouched in the assistant turn and in the
tool_result, so the signature rides in the id: ``<call id>__ts__<signature>``,
base64 made URL-safe without padding so the id keeps Anthropic's
``[a-zA-Z0-9_-]`` alphabet. Other providers' ids pass unchanged.
"""

from __future__ import annotations

from typing import Any, Final

from gateway.adapters.base import JSON

MARK: Final = "__ts__"


def signature_of(call: JSON) -> str | None:
    """The Gemini thought signature of a chat tool call, if it carries one."""
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def tool_use_id(call_id: str, signature: str | None) -> str:
    if signature is None:
        return call_id
    safe = signature.replace("+", "-").replace("/", "_").rstrip("=")
    return f"{call_id}{MARK}{safe}"


def split(tool_use_id: Any) -> tuple[Any, str | None]:
    """(the provider's call id, its thought signature or None) for an id a client echoed."""
    if not isinstance(tool_use_id, str) or MARK not in tool_use_id:
        return tool_use_id, None
    call_id, _, safe = tool_use_id.partition(MARK)
    signature = safe.replace("-", "+").replace("_", "/")
    return call_id, signature + "=" * (-len(signature) % 4)
