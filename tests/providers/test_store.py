"""ProviderStore on every storage backend: CRUD, keys encrypted at rest, verify, rotate."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from gateway.errors import Conflict, NotFound
from gateway.providers.records import ProviderRecord
from gateway.providers.store import COLLECTION, KEEP_KEY, ProviderStore
from gateway.storage.base import Change, Storage
from gateway.storage.crypto import Cipher, MasterKeyError

KEY = "sk-store-test-key-abcdef-1234"


def cipher(*keys: str) -> Cipher:
    return Cipher(list(keys), "test")


def record(provider_id: str = "p", **fields: object) -> ProviderRecord:
    values: dict[str, object] = {
        "id": provider_id,
        "name": provider_id.upper(),
        "template": "openai",
        "base_url": "https://api.openai.com/v1",
        "created_at": 1,
        "updated_at": 1,
        **fields,
    }
    return ProviderRecord.model_validate(values)


async def test_crud_with_encrypted_key(storage_backend: Storage) -> None:
    collection = storage_backend.collection(COLLECTION)
    store = ProviderStore(collection, cipher(Fernet.generate_key().decode()))
    seen: list[Change] = []
    store.subscribe(seen.append)

    saved = await store.create(record(), KEY)
    assert saved.has_api_key and saved.api_key_hint == "sk-…1234"
    raw = await collection.get("p")
    assert raw is not None and KEY not in repr(raw)
    assert raw["api_key_encrypted"].startswith("gAAAA")
    assert store.api_key(saved) == KEY
    with pytest.raises(Conflict):
        await store.create(record(), None)

    renamed = await store.update(saved.model_copy(update={"name": "Renamed"}), KEEP_KEY)
    assert store.api_key(renamed) == KEY
    fetched = await store.get("p")
    assert fetched is not None and fetched.name == "Renamed" and fetched.has_api_key
    cleared = await store.update(fetched, None)
    assert not cleared.has_api_key and cleared.api_key_encrypted is None
    assert store.api_key(cleared) is None
    with pytest.raises(NotFound):
        await store.update(record("ghost"), None)

    await store.create(record("a"), None)
    assert [r.id for r in await store.list()] == ["a", "p"]
    assert await store.delete("p") is True
    assert await store.delete("p") is False
    assert await store.get("p") is None
    assert [c.kind for c in seen] == ["created", "updated", "updated", "created", "deleted"]


async def test_verify_refuses_a_wrong_master_key(storage_backend: Storage) -> None:
    collection = storage_backend.collection(COLLECTION)
    right = Fernet.generate_key().decode()
    await ProviderStore(collection, cipher(right)).create(record(), KEY)
    before = await collection.all()
    wrong = ProviderStore(collection, cipher(Fernet.generate_key().decode()))
    with pytest.raises(MasterKeyError) as caught:
        await wrong.verify()
    message = str(caught.value)
    assert "wrong master key" in message and "'p'" in message and "nothing was changed" in message
    assert KEY not in message
    assert await collection.all() == before
    await ProviderStore(collection, cipher(right)).verify()


async def test_rotate_reencrypts_under_the_new_key(storage_backend: Storage) -> None:
    collection = storage_backend.collection(COLLECTION)
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    store = ProviderStore(collection, cipher(old))
    await store.create(record("a"), KEY)
    await store.create(record("b"), None)
    token_before = (await collection.get("a") or {})["api_key_encrypted"]

    assert await store.rotate(cipher(new, old)) == 1
    token_after = (await collection.get("a") or {})["api_key_encrypted"]
    assert token_after != token_before
    only_new = ProviderStore(collection, cipher(new))
    await only_new.verify()
    rotated = await only_new.get("a")
    assert rotated is not None and only_new.api_key(rotated) == KEY
    with pytest.raises(MasterKeyError):
        await ProviderStore(collection, cipher(old)).verify()
