"""Stored responses: encrypted with the master key, kept for ``responses.retention_s``.

One record per response: who made it (the gateway key's id), whether a native
provider made it, the conversation before it, its own input items and the
response object. The file backend writes one file per response under
``storage.path/responses`` (expired by age); the Redis backend sets one key
per response with an expiry, so every instance sharing the Redis sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import orjson

from gateway.adapters.base import JSON
from gateway.cluster.client import UNREACHABLE, Redis, bounded
from gateway.errors import ServiceUnavailable
from gateway.storage.crypto import Cipher
from gateway.storage.file import write_atomically

logger = logging.getLogger("gateway.responses.store")

ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
"""Response ids that may name a file or a key (no path or glob characters)."""
REDIS_PREFIX: Final = "gw:responses:"
UNAVAILABLE: Final = "Stored responses are unavailable right now (storage unreachable)."


@dataclass(slots=True)
class StoredResponse:
    owner: str | None
    """The gateway key id that created it; None when auth was off."""
    native: bool
    """Made by a provider that speaks the Responses API (it knows the id itself)."""
    context: list[JSON]
    """The conversation before this response's input (from ``previous_response_id``)."""
    input: list[JSON]
    response: JSON

    def conversation(self) -> list[JSON]:
        """Everything a follow-up request continues from: context, input, output."""
        output = self.response.get("output")
        return [*self.context, *self.input, *(output if isinstance(output, list) else ())]

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "owner": self.owner,
                "native": self.native,
                "context": self.context,
                "input": self.input,
                "response": self.response,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> StoredResponse:
        doc: Any = orjson.loads(data)
        return cls(doc["owner"], doc["native"], doc["context"], doc["input"], doc["response"])


class ResponseStore(Protocol):
    async def save(self, record: StoredResponse) -> None: ...

    async def get(self, response_id: str) -> StoredResponse | None: ...

    async def delete(self, response_id: str) -> bool: ...


def _valid(response_id: str) -> bool:
    return ID_PATTERN.match(response_id) is not None


def _id_of(record: StoredResponse) -> str:
    """The response's id, which names its file or key; ValueError if it cannot."""
    response_id = record.response.get("id")
    if not isinstance(response_id, str) or not _valid(response_id):
        raise ValueError("the response id cannot name a stored response")
    return response_id


class FileResponses:
    """One encrypted file per response; files older than the retention are gone."""

    def __init__(self, folder: Path, cipher: Cipher, retention_s: float) -> None:
        self.folder = folder
        self.cipher = cipher
        self.retention_s = retention_s
        self._next_sweep = 0.0

    async def save(self, record: StoredResponse) -> None:
        response_id = _id_of(record)
        token = self.cipher.encrypt(record.to_json().decode()).encode()
        await asyncio.to_thread(self._write, response_id, token)

    def _write(self, response_id: str, token: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(self.folder / response_id, token)
        if time.time() >= self._next_sweep:
            self._sweep()

    def _sweep(self) -> None:
        """Delete expired files (at most once per tenth of the retention)."""
        now = time.time()
        self._next_sweep = now + self.retention_s / 10
        for path in self.folder.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime > self.retention_s:
                    path.unlink()

    async def get(self, response_id: str) -> StoredResponse | None:
        if not _valid(response_id):
            return None
        token = await asyncio.to_thread(self._read, self.folder / response_id)
        if token is None:
            return None
        return StoredResponse.from_json(self.cipher.decrypt(token.decode()).encode())

    def _read(self, path: Path) -> bytes | None:
        try:
            if time.time() - path.stat().st_mtime > self.retention_s:
                path.unlink()
                return None
            return path.read_bytes()
        except FileNotFoundError:
            return None

    async def delete(self, response_id: str) -> bool:
        if not _valid(response_id):
            return False
        try:
            await asyncio.to_thread(os.unlink, self.folder / response_id)
        except FileNotFoundError:
            return False
        return True


class RedisResponses:
    """One key per response with the retention as its expiry, shared by every instance."""

    def __init__(self, client: Redis, cipher: Cipher, retention_s: float, timeout_s: float):
        self.client = client
        self.cipher = cipher
        self.retention_s = retention_s
        self.timeout_s = timeout_s

    async def save(self, record: StoredResponse) -> None:
        key = REDIS_PREFIX + _id_of(record)
        token = self.cipher.encrypt(record.to_json().decode())
        try:
            await bounded(
                self.client.set(key, token, px=int(self.retention_s * 1000)), self.timeout_s
            )
        except UNREACHABLE:
            raise ServiceUnavailable(UNAVAILABLE, code="storage_unavailable") from None

    async def get(self, response_id: str) -> StoredResponse | None:
        if not _valid(response_id):
            return None
        try:
            token = await bounded(self.client.get(REDIS_PREFIX + response_id), self.timeout_s)
        except UNREACHABLE:
            raise ServiceUnavailable(UNAVAILABLE, code="storage_unavailable") from None
        if token is None:
            return None
        text = token.decode() if isinstance(token, bytes) else str(token)
        return StoredResponse.from_json(self.cipher.decrypt(text).encode())

    async def delete(self, response_id: str) -> bool:
        if not _valid(response_id):
            return False
        try:
            removed = await bounded(self.client.delete(REDIS_PREFIX + response_id), self.timeout_s)
        except UNREACHABLE:
            raise ServiceUnavailable(UNAVAILABLE, code="storage_unavailable") from None
        return bool(removed)
