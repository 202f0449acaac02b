"""ProviderStore: provider records over any storage backend, keys encrypted before they land.

Backend-neutral: it only uses the ``Collection`` interface, so the file and
Redis backends share it (and its tests).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from gateway.errors import Conflict, NotFound
from gateway.providers.records import SEALED, ProviderRecord, is_secret_header, key_hint
from gateway.storage.base import AlreadyExists, Collection, DoesNotExist, Listener, StorageError
from gateway.storage.crypto import Cipher, MasterKeyError

COLLECTION = "providers"


class KeepKey:
    """Marker: an update that leaves the stored key as it is."""


KEEP_KEY = KeepKey()


class ProviderStore:
    def __init__(self, collection: Collection, cipher: Cipher) -> None:
        self._collection = collection
        self._cipher = cipher

    async def list(self) -> list[ProviderRecord]:
        docs = await self._collection.all()
        return [self._load(doc_id, doc) for doc_id, doc in sorted(docs.items())]

    async def get(self, provider_id: str) -> ProviderRecord | None:
        doc = await self._collection.get(provider_id)
        return None if doc is None else self._load(provider_id, doc)

    async def create(self, record: ProviderRecord, api_key: str | None) -> ProviderRecord:
        stored = self._sealed(self._with_key(record, api_key))
        try:
            await self._collection.create(stored.id, self._dump(stored))
        except AlreadyExists:
            raise Conflict(
                f"A provider with id {stored.id!r} already exists.", param="id"
            ) from None
        return stored

    async def update(self, record: ProviderRecord, api_key: str | KeepKey | None) -> ProviderRecord:
        stored = record if isinstance(api_key, KeepKey) else self._with_key(record, api_key)
        stored = self._sealed(stored)
        try:
            await self._collection.replace(stored.id, self._dump(stored))
        except DoesNotExist:
            raise NotFound(f"No provider with id {stored.id!r}.") from None
        return stored

    async def delete(self, provider_id: str) -> bool:
        return await self._collection.delete(provider_id)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._collection.subscribe(listener)

    def api_key(self, record: ProviderRecord) -> str | None:
        """The plaintext key, for building upstream headers only."""
        if record.api_key_encrypted is None:
            return None
        return self._cipher.decrypt(record.api_key_encrypted)

    def headers(self, record: ProviderRecord) -> dict[str, str]:
        """The record's headers with secret values decrypted, for building upstream headers only."""
        return {
            name: self._cipher.decrypt(value[len(SEALED) :]) if value.startswith(SEALED) else value
            for name, value in record.headers.items()
        }

    async def verify(self) -> None:
        """Refuse to start when the master key does not decrypt every stored key."""
        for record in await self.list():
            if record.api_key_encrypted is not None:
                try:
                    self._cipher.decrypt(record.api_key_encrypted)
                except MasterKeyError as exc:
                    raise MasterKeyError(
                        f"{exc}: provider {record.id!r} in the {self._collection.name!r} store; "
                        "refusing to start, nothing was changed"
                    ) from None

    async def rotate(self, new_cipher: Cipher) -> int:
        """Re-encrypt every stored key under ``new_cipher``'s first key; returns how many."""
        docs = await self._collection.all()
        rotated = 0
        for doc_id, doc in docs.items():
            token = doc.get("api_key_encrypted")
            if token:
                docs[doc_id] = {**doc, "api_key_encrypted": new_cipher.rotate(token)}
                rotated += 1
            headers = doc.get("headers")
            if isinstance(headers, dict) and any(
                isinstance(v, str) and v.startswith(SEALED) for v in headers.values()
            ):
                docs[doc_id] = {**docs[doc_id], "headers": {
                    name: SEALED + new_cipher.rotate(value[len(SEALED) :])
                    if isinstance(value, str) and value.startswith(SEALED) else value
                    for name, value in headers.items()
                }}  # fmt: skip
        await self._collection.replace_all(docs)
        self._cipher = new_cipher
        return rotated

    def _with_key(self, record: ProviderRecord, api_key: str | None) -> ProviderRecord:
        update: dict[str, object]
        if api_key is None:
            update = {"has_api_key": False, "api_key_hint": None, "api_key_encrypted": None}
        else:
            update = {
                "has_api_key": True,
                "api_key_hint": key_hint(api_key),
                "api_key_encrypted": self._cipher.encrypt(api_key),
            }
        return record.model_copy(update=update)

    def _sealed(self, record: ProviderRecord) -> ProviderRecord:
        """Secret header values encrypted (values already sealed stay as they are)."""
        if not any(is_secret_header(name) for name in record.headers):
            return record
        headers = {
            name: SEALED + self._cipher.encrypt(value)
            if is_secret_header(name) and not value.startswith(SEALED)
            else value
            for name, value in record.headers.items()
        }
        return record.model_copy(update={"headers": headers})

    @staticmethod
    def _dump(record: ProviderRecord) -> dict[str, object]:
        return record.model_dump(mode="json", exclude={"file"})

    def _load(self, doc_id: str, doc: dict[str, object]) -> ProviderRecord:
        try:
            return ProviderRecord.model_validate({**doc, "id": doc_id, "source": "api"})
        except ValidationError as exc:
            raise StorageError(
                f"stored provider {doc_id!r} in {self._collection.name!r} is malformed: {exc}"
            ) from None
