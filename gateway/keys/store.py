"""Gateway API keys over a storage Collection: only hashes are stored.

A key is ``gw-`` plus 32 random bytes (URL-safe base64), so a plain SHA-256 of
it cannot be brute-forced and needs no salt. Lookups hit an in-memory index by
hash, rebuilt on every collection change, so authentication is one dict lookup
and a revocation (here or in another process) applies on the next request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gateway.keys.principal import Budget, Principal
from gateway.storage.base import Change, Collection, Document

logger = logging.getLogger("gateway.keys")

KEY_PREFIX = "gw-"
HINT_LENGTH = len(KEY_PREFIX) + 6


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def public_view(doc: Document) -> dict[str, Any]:
    """A key's metadata as the API and CLI show it: never the hash (keys made before budgets
    existed show none)."""
    view: dict[str, Any] = {"budget_usd": None, "max_tokens": None, "budget_period": "month"}
    view.update((name, value) for name, value in doc.items() if name != "hash")
    return view


def _budget(doc: Document) -> Budget | None:
    usd, max_tokens = doc.get("budget_usd"), doc.get("max_tokens")
    if usd is None and max_tokens is None:
        return None
    return Budget(period=doc.get("budget_period") or "month", usd=usd, max_tokens=max_tokens)


def _principal(doc: Document) -> Principal:
    expires = doc.get("expires_at")
    return Principal(
        key_id=doc["id"],
        name=doc["name"],
        scopes=frozenset(doc["scopes"]),
        models=frozenset(doc["models"]) if doc.get("models") else None,
        rpm=doc.get("rpm"),
        tpm=doc.get("tpm"),
        expires_at=datetime.fromisoformat(expires).timestamp() if expires else None,
        budget=_budget(doc),
    )


class KeyStore:
    """Create, list and revoke keys; authenticate presented keys from memory."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._by_hash: dict[str, Principal] = {}
        self._hash_by_id: dict[str, str] = {}
        self._generation = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._reloading: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Build the index and follow the collection's changes."""
        self._unsubscribe = self.collection.subscribe(self._on_change)
        await self._reload()

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._reloading is not None:
            self._reloading.cancel()
            self._reloading = None

    def authenticate(self, presented: str) -> Principal | None:
        """The principal for a presented key, or None when it is unknown (expiry not checked)."""
        digest = hash_key(presented)
        principal = self._by_hash.get(digest)
        if principal is None:
            return None
        stored = self._hash_by_id.get(principal.key_id or "", "")
        return principal if hmac.compare_digest(stored, digest) else None

    async def create(
        self,
        *,
        name: str,
        scopes: list[str],
        models: list[str] | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        expires_at: datetime | None = None,
        budget_usd: float | None = None,
        max_tokens: int | None = None,
        budget_period: str = "month",
    ) -> tuple[str, dict[str, Any]]:
        """A new key and its public metadata; the key itself is never stored."""
        key = generate_key()
        doc: Document = {
            "id": "key_" + secrets.token_hex(8),
            "name": name,
            "hash": hash_key(key),
            "prefix": key[:HINT_LENGTH],
            "scopes": sorted(set(scopes)),
            "models": sorted(set(models)) if models else None,  # empty: every model
            "rpm": rpm,
            "tpm": tpm,
            "expires_at": expires_at.astimezone(UTC).isoformat() if expires_at else None,
            "budget_usd": budget_usd,
            "max_tokens": max_tokens,
            "budget_period": budget_period,
            "created_at": datetime.fromtimestamp(time.time(), UTC).isoformat(),
        }
        await self.collection.create(doc["id"], doc)
        self._index(doc)
        return key, public_view(doc)

    async def list(self) -> list[dict[str, Any]]:
        docs = await self.collection.all()
        return [public_view(doc) for _, doc in sorted(docs.items())]

    async def get(self, key_id: str) -> dict[str, Any] | None:
        doc = await self.collection.get(key_id)
        return public_view(doc) if doc is not None else None

    async def update(self, key_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Replace some of a key's settings (never its id, hash or prefix); None when unknown
        or revoked (a revoked key is kept as a record only)."""
        doc = await self.collection.get(key_id)
        if doc is None or doc.get("revoked_at"):
            return None
        doc = {**doc, **changes}
        await self.collection.replace(key_id, doc)
        self._index(doc)
        return public_view(doc)

    async def revoke(self, key_id: str) -> bool:
        """Refuse a key from the next request on; False when unknown or already revoked.

        Its metadata stays, with ``revoked_at`` and without its hash, so lists can still
        show who had access and until when.
        """
        doc = await self.collection.get(key_id)
        if doc is None or doc.get("revoked_at"):
            return False
        kept = {name: value for name, value in doc.items() if name != "hash"}
        kept["revoked_at"] = datetime.fromtimestamp(time.time(), UTC).isoformat()
        await self.collection.replace(key_id, kept)
        # After the write: a reload that read the old document starts over (generation).
        self._forget(key_id)
        return True

    def _index(self, doc: Document) -> None:
        self._forget(doc["id"])
        self._by_hash[doc["hash"]] = _principal(doc)
        self._hash_by_id[doc["id"]] = doc["hash"]

    def _forget(self, key_id: str) -> None:
        self._generation += 1
        digest = self._hash_by_id.pop(key_id, None)
        if digest is not None:
            self._by_hash.pop(digest, None)

    def _on_change(self, change: Change) -> None:
        if change.kind == "deleted" and change.id is not None:
            self._forget(change.id)
            return
        self._generation += 1  # a reload already running reads again
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.get_running_loop().create_task(self._reload())

    async def _reload(self) -> None:
        """Rebuild the index from the collection; start over if a revocation raced it."""
        while True:
            generation = self._generation
            docs = await self.collection.all()
            if generation != self._generation:
                continue
            by_hash: dict[str, Principal] = {}
            hash_by_id: dict[str, str] = {}
            for doc_id, doc in docs.items():
                if doc.get("revoked_at"):
                    continue
                try:
                    by_hash[doc["hash"]] = _principal(doc)
                except (KeyError, TypeError, ValueError):
                    logger.error("key %s is malformed in the store; it is refused", doc_id)
                    continue
                hash_by_id[doc["id"]] = doc["hash"]
            self._by_hash, self._hash_by_id = by_hash, hash_by_id
            return
